// GraphQL over HTTP at /graphql (and GraphiQL for people), on the shared schema.
import { createYoga } from 'graphql-yoga';
import type { PrismaClient } from '../database/generated/prisma/client.js';
import { authenticate } from '../domain/organizations.js';
import type { DomainServices } from '../domain/tenant.js';
import { apiKeyFrom } from '../http/authorization.js';
import type { GraphQLContext } from './context.js';
import { maskError } from './errors.js';
import { schema } from './schema.js';

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
    id
    status
  }
}
`;

export interface GraphQLServerOptions {
  prisma: PrismaClient;
  services?: DomainServices;
  /** Request headers GraphiQL starts with (the demo key on the demo database). */
  graphiqlHeaders?: Record<string, string>;
}

export function createGraphQLServer({ prisma, services, graphiqlHeaders }: GraphQLServerOptions) {
  return createYoga<Record<string, never>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: false,
    maskedErrors: { maskError },
    graphiql: {
      title: 'Flow-run gateway',
      defaultQuery: EXAMPLE_OPERATIONS,
      ...(graphiqlHeaders && { headers: JSON.stringify(graphiqlHeaders) }),
    },
    context: async ({ request }) => ({ tenant: await authenticate(prisma, apiKeyFrom(request.headers), services) }),
  });
}
