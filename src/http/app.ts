// The service as one fetch handler: GraphQL at /graphql, JSON:API under /public/v2,
// health at /healthz and /readyz, metrics at /metrics (unless they have a port of their
// own, src/http/metrics-endpoint.ts). Tests call `app.fetch(request)`
// without opening a port; src/http/serve.ts serves it (and WebSocket subscriptions).
import { DEFAULT_MAX_SUBSCRIPTIONS_PER_KEY, DEFAULT_REQUEST_TIMEOUT_MS } from '../config.js';
import type { Database } from '../database/client.js';
import { usableApiKeys } from '../domain/api-keys.js';
import { createAuthenticator, DEFAULT_KEY_CACHE_TTL_MS } from '../domain/organizations.js';
import { defaultServices, type DomainServices } from '../domain/tenant.js';
import type { FlowRunChangeFeed } from '../graphql/context.js';
import { createContextFactory } from '../graphql/context-factory.js';
import { createSubscriptionRegistry } from '../graphql/subscription-registry.js';
import type { WebSocketGuards } from '../graphql/websocket.js';
import { createGraphQLServer } from '../graphql/yoga.js';
import { type Logger, logger as defaultLogger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';
import { handleRestRequest } from '../rest/handler.js';
import { MAX_BODY_BYTES, readBodyWithin } from '../request/body.js';
import { errorFor, surfaceOf } from './error-response.js';
import { createGraphiQLAssets, GRAPHIQL_ASSET_PATH } from './graphiql.js';
import { withCors } from './cors.js';
import { liveness, readiness, stoppingReadiness } from './health.js';
import { instrument, routeOf } from './instrumentation.js';
import { metricsEndpoint } from './metrics-endpoint.js';
import type { RateLimiter } from './rate-limit.js';
import { createAdmission } from './admission.js';
import type { ClientConnection } from '../request/client-connection.js';
import type { ClientLimits } from './client-limits.js';

export interface AppOptions {
  db: Database;
  /** Clock and change publisher for the domain; defaults: system time, no announcements. */
  services?: DomainServices;
  /** Where subscriptions listen; without it, subscribing is refused. */
  changeFeed?: FlowRunChangeFeed;
  /** Headers GraphiQL starts with, for a browser on this machine only (the demo key). */
  graphiqlHeaders?: Record<string, string>;
  /** Serve GraphiQL at GET /graphql (default true; the server turns it off off the demo database). */
  graphiql?: boolean;
  /** When set, /metrics answers only `Authorization: Bearer <token>`; unset, only clients on this machine. */
  metricsToken?: string;
  /** Serve /metrics here (default true); false when METRICS_PORT gives it a listener of its own. */
  metricsRoute?: boolean;
  /** Per-key request rate; none means unlimited. */
  rateLimiter?: RateLimiter;
  /** Budgets per client address (failed authentications, requests without a key); none means unlimited. */
  clientLimits?: ClientLimits;
  metrics?: Metrics;
  logger?: Logger;
  /** OpenTelemetry, when on (src/observability/tracing.ts): spans per request, execution and SQL statement. */
  tracing?: Tracing;
  requestTimeoutMs?: number;
  /** Subscriptions one API key may hold open on an instance at once, over SSE and WebSocket together (default 100). */
  maxSubscriptionsPerKey?: number;
  /**
   * API_KEY_CACHE_TTL_MS: how long a key revoked without news keeps working here. Open
   * subscriptions' keys are rechecked twice within it, so theirs end within it too.
   */
  apiKeyCacheTtlMs?: number;
  /** Origins browsers may call from (`*` for any); none by default. */
  corsOrigins?: readonly string[];
}

export interface App {
  /** `connection`: where the request came from; without it, no budget per address applies. */
  fetch(request: Request, connection?: ClientConnection): Promise<Response>;
  graphql: ReturnType<typeof createGraphQLServer>;
  metrics: Metrics;
  /** Completes every open subscription, for a clean stop. */
  endSubscriptions(): void;
  /**
   * News that keys were revoked or rotated elsewhere (their ids), or that news may have
   * been missed (no ids: Redis was away): the keys are forgotten, and the subscriptions of
   * those no longer valid end. Resolves once they are rechecked (a recheck that failed is
   * logged; the periodic one tries again).
   */
  apiKeysChanged(apiKeyIds?: readonly string[]): Promise<void>;
  /** From now on /readyz answers 503: load balancers stop sending new requests. */
  beginStopping(): void;
  /** What GraphQL over WebSocket checks, as HTTP requests are checked here. */
  websocketGuards: WebSocketGuards;
}

export function createApp(options: AppOptions): App {
  const { db, services = defaultServices, changeFeed, graphiqlHeaders, rateLimiter } = options;
  const metrics = options.metrics ?? createMetrics({ poolStats: db.poolStats });
  const keyCacheTtlMs = options.apiKeyCacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
  // One for the app: admission and both surfaces share the keys and scoped clients it remembers.
  const authenticator = createAuthenticator(db, { services, keyCacheTtlMs });
  const contextFor = createContextFactory(authenticator, changeFeed);
  const { tracing } = options;
  const logger = options.logger ?? defaultLogger;
  const subscriptions = createSubscriptionRegistry({
    maxPerKey: options.maxSubscriptionsPerKey ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_KEY,
    usableKeys: (ids, now) => usableApiKeys(db.prisma, ids, now),
    clock: services.clock,
    recheckEveryMs: keyCacheTtlMs / 2,
    onRecheckFailed: (error) => recheckFailed(error),
  });
  // The subscriptions go on; the next periodic recheck tries again.
  const recheckFailed = (error: unknown) => logger.warn({ err: error }, 'the API keys of open subscriptions could not be rechecked');
  const graphql = createGraphQLServer({
    contextFor,
    graphiqlHeaders,
    graphiql: options.graphiql,
    metrics,
    subscriptions,
    plugins: tracing ? [tracing.graphqlPlugin] : [],
  });
  const admit = createAdmission({ authenticator, rateLimiter, clientLimits: options.clientLimits });
  const answerMetrics =
    options.metricsRoute === false ? undefined : metricsEndpoint(metrics, { token: options.metricsToken, localOnly: !options.metricsToken });
  const graphiqlAssets = options.graphiql === false ? undefined : createGraphiQLAssets();
  let stopping = false;

  async function route(request: Request, connection?: ClientConnection): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === '/healthz') return liveness();
    if (pathname === '/readyz') return stopping ? stoppingReadiness() : readiness(db, logger);
    // GraphiQL's files are the same for everyone: no key, no budget.
    if (graphiqlAssets && pathname.startsWith(GRAPHIQL_ASSET_PATH)) return graphiqlAssets.serve(request);
    if (pathname === '/metrics') {
      return answerMetrics ? answerMetrics(request, connection) : errorFor('graphql', 404, 'ROUTE_NOT_FOUND', 'nothing is served at this path');
    }
    const surface = surfaceOf(pathname);
    const declaredLength = Number(request.headers.get('content-length') ?? 0);
    if (declaredLength > MAX_BODY_BYTES) {
      return errorFor(surface, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    const admission = await admit(request, surface, connection);
    if ('refused' in admission) {
      metrics.rateLimited.inc();
      return admission.refused;
    }
    const rateHeaders = admission.headers;
    let forwarded = request;
    if (surface !== 'rest' && request.body && !request.headers.has('content-length')) {
      // A body of undeclared length (chunked) is read up to the limit before GraphQL
      // parses it; the REST adapter counts the bytes it reads itself.
      const body = await readBodyWithin(request, MAX_BODY_BYTES);
      if (!body) return errorFor(surface, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
      forwarded = new Request(request.url, { method: request.method, headers: request.headers, body, signal: request.signal });
    }
    const response =
      surface === 'rest'
        ? await handleRestRequest(request, contextFor, tracing?.traceOperation)
        : withGraphQLErrorBody(await graphql.fetch(forwarded, { connection }));
    for (const [name, value] of Object.entries(rateHeaders)) response.headers.set(name, value);
    return response;
  }

  return {
    graphql,
    metrics,
    endSubscriptions: () => changeFeed?.endSubscriptions?.(),
    async apiKeysChanged(apiKeyIds) {
      if (apiKeyIds) authenticator.forgetApiKeys(apiKeyIds);
      else authenticator.forgetAllApiKeys();
      await subscriptions.recheck(apiKeyIds).catch(recheckFailed);
    },
    beginStopping: () => {
      stopping = true;
    },
    websocketGuards: {
      admit: (headers, connection) => admit(new Request('http://websocket/graphql', { headers }), 'graphql', connection),
      contextFor,
      timeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    },
    fetch: traced(
      instrument(withCors(route, options.corsOrigins ?? []), {
        logger,
        metrics,
        timeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        traceId: tracing?.currentTraceId,
      }),
    ),
  };

  /** Without tracing, the handler as it is: no wrapper on the request path. */
  function traced(handle: App['fetch']): App['fetch'] {
    return tracing ? tracing.traceRequests(handle, routeOf) : handle;
  }
}

const BODYLESS_ERRORS: Record<number, [code: string, detail: string]> = {
  404: ['ROUTE_NOT_FOUND', 'nothing is served at this path'],
  405: ['METHOD_NOT_ALLOWED', 'this method is not allowed here'],
  406: [
    'NOT_ACCEPTABLE',
    'none of the media types in Accept can be sent; accept application/graphql-response+json, application/json or text/event-stream',
  ],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'send GraphQL requests as application/json'],
};

/** Yoga answers some protocol errors (406, 415) with no body: give them a GraphQL error body. */
function withGraphQLErrorBody(response: Response): Response {
  if (response.status < 400 || response.body !== null) return response;
  const [code, detail] = BODYLESS_ERRORS[response.status] ?? ['BAD_REQUEST', response.statusText || 'the request was refused'];
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'content-type' && name !== 'content-length') headers[name] = value;
  });
  return errorFor('graphql', response.status, code, detail, headers);
}
