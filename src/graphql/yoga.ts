// GraphQL over HTTP at /graphql (and GraphiQL for people), on the shared schema.
import { createYoga, type Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.js';
import type { Metrics } from '../observability/metrics.js';
import type { ContextFactory } from './context-factory.js';
import { graphiqlPageHeaders, renderGraphiQLPage } from './graphiql-page.js';
import { compiledExecution } from './compiled-execution.js';
import { countOperations, queryLimits } from './limits.js';
import { maskError } from './errors.js';
import { schema } from './schema.js';
import { holdSubscriptions } from './subscription-holds.js';
import type { SubscriptionRegistry } from './subscription-registry.js';
import { type ClientConnection, isLocalBrowser } from '../request/client-connection.js';

export const EXAMPLE_OPERATIONS = `# Newest runs with their flow and thread
query NewestRuns {
  flowRuns(first: 10) {
    totalCount
    edges {
      node {
        id
        status
        createdAt
        flow { id name }
        messageThread { id channel identifier }
      }
    }
  }
}

# Trigger a run: paste ids from the query above
mutation Trigger($flowId: UUID!, $messageThreadId: UUID!) {
  triggerFlowRun(input: { flowId: $flowId, messageThreadId: $messageThreadId, state: {}, initialMessage: {} }) {
    flowRun { id status }
    replayed
  }
}
`;

export interface GraphQLServerOptions {
  contextFor: ContextFactory;
  metrics: Metrics;
  /** Where every subscription, over SSE or WebSocket, takes a place of its API key. */
  subscriptions: SubscriptionRegistry;
  /**
   * Request headers GraphiQL starts with (the demo key on the demo database): given only
   * to a browser on this machine (src/request/client-connection.ts), never to the network.
   */
  graphiqlHeaders?: Record<string, string>;
  /** Serve GraphiQL at GET /graphql (default true). */
  graphiql?: boolean;
  /** More plugins after the service's own (the tracing span per execution, when tracing is on). */
  plugins?: Plugin[];
}

/** What the server layer tells about a request beside the request itself. */
export interface GraphQLServerContext {
  connection?: ClientConnection;
}

/** What a transport adds to the context (WebSocket: how to end a subscription whose key stopped being valid). */
type TransportContext = Pick<GraphQLContext, 'endForRefusedKey'>;

export function createGraphQLServer({ contextFor, graphiqlHeaders, graphiql = true, metrics, subscriptions, plugins = [] }: GraphQLServerOptions) {
  const graphiqlOptions = { title: 'Flow-run gateway', defaultQuery: EXAMPLE_OPERATIONS };
  const prefilled = graphiqlHeaders && { ...graphiqlOptions, headers: JSON.stringify(graphiqlHeaders) };
  return createYoga<GraphQLServerContext & TransportContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // CORS is answered once for both surfaces, in src/http/cors.ts.
    cors: false,
    logging: false,
    maskedErrors: { maskError },
    // Several operations in one request, but not a thousand.
    batching: { limit: 10 },
    // Subscriptions take their key's place after the limits: a refused one never holds one.
    plugins: [
      ...queryLimits(schema),
      countOperations(metrics),
      graphiqlPageHeaders(),
      compiledExecution(),
      holdSubscriptions(subscriptions),
      ...plugins,
    ],
    // Yoga's own page loads GraphiQL from a CDN; this one only from the service.
    renderGraphiQL: renderGraphiQLPage,
    graphiql: graphiql && ((request, server) => (prefilled && isLocalBrowser(request.headers, server?.connection) ? prefilled : graphiqlOptions)),
    context: ({ request }) => contextFor(request.headers),
  });
}
