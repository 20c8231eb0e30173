// The service as one fetch handler: GraphQL at /graphql, JSON:API under /public/v2,
// health at /healthz and /readyz, metrics at /metrics. Tests call `app.fetch(request)`
// without opening a port; src/http/serve.ts serves it (and WebSocket subscriptions).
import type { Database } from '../database/client.js';
import { defaultServices, type DomainServices } from '../domain/tenant.js';
import type { FlowRunChangeFeed } from '../graphql/context.js';
import { createContextFactory } from '../graphql/context-factory.js';
import { createGraphQLServer } from '../graphql/yoga.js';
import { type Logger, logger as defaultLogger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { handleRestRequest } from '../rest/handler.js';
import { apiKeyFrom } from './authorization.js';
import { errorFor, surfaceOf } from './error-response.js';
import { liveness, readiness } from './health.js';
import { instrument } from './instrumentation.js';
import type { RateLimiter } from './rate-limit.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppOptions {
  db: Database;
  /** Clock and change publisher for the domain; defaults: system time, no announcements. */
  services?: DomainServices;
  /** Where subscriptions listen; without it, subscribing is refused. */
  changeFeed?: FlowRunChangeFeed;
  graphiqlHeaders?: Record<string, string>;
  /** Per-key request rate; none means unlimited. */
  rateLimiter?: RateLimiter;
  metrics?: Metrics;
  logger?: Logger;
  requestTimeoutMs?: number;
}

export interface App {
  fetch(request: Request): Promise<Response>;
  graphql: ReturnType<typeof createGraphQLServer>;
  metrics: Metrics;
}

export function createApp(options: AppOptions): App {
  const { db, services = defaultServices, changeFeed, graphiqlHeaders, rateLimiter } = options;
  const metrics = options.metrics ?? createMetrics({ poolStats: db.poolStats });
  const contextFor = createContextFactory(db.prisma, services, changeFeed);
  const graphql = createGraphQLServer({ contextFor, graphiqlHeaders, metrics });

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === '/healthz') return liveness();
    if (pathname === '/readyz') return readiness(db);
    if (pathname === '/metrics') {
      return new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } });
    }
    const surface = surfaceOf(pathname);
    const declaredLength = Number(request.headers.get('content-length') ?? 0);
    if (declaredLength > MAX_BODY_BYTES) {
      return errorFor(surface, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    let rateHeaders: Record<string, string> = {};
    const key = apiKeyFrom(request.headers);
    if (rateLimiter && key) {
      const decision = await rateLimiter.take(key);
      if (!decision.allowed) {
        metrics.rateLimited.inc();
        return errorFor(surface, 429, 'RATE_LIMITED', 'too many requests for this API key; retry after the time given', decision.headers);
      }
      rateHeaders = decision.headers;
    }
    const response = surface === 'rest' ? await handleRestRequest(request, contextFor) : await graphql.fetch(request);
    for (const [name, value] of Object.entries(rateHeaders)) response.headers.set(name, value);
    return response;
  }

  return {
    graphql,
    metrics,
    fetch: instrument(route, {
      logger: options.logger ?? defaultLogger,
      metrics,
      timeoutMs: options.requestTimeoutMs ?? 30_000,
    }),
  };
}
