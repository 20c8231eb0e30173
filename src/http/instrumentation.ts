// Around every request: a request id (taken from X-Request-Id when it is sane, echoed
// back), one JSON log line, Prometheus counts and latency, and a deadline.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ClientConnection } from '../request/client-connection.js';
import { RESOURCES } from '../rest/routes.js';
import { errorFor, surfaceOf } from './error-response.js';
import { GRAPHIQL_ASSET_PATH } from './graphiql.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const REST_SEGMENTS = new Set(RESOURCES.flatMap((resource) => resource.paths));
const FIXED_ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/public/v2/openapi.json']);

/** A route pattern for labels and logs: a bounded set, whatever paths clients send. */
export function routeOf(pathname: string): string {
  if (FIXED_ROUTES.has(pathname)) return pathname;
  if (pathname.startsWith(GRAPHIQL_ASSET_PATH)) return `${GRAPHIQL_ASSET_PATH}{file}`;
  const [, base, version, segment, id, ...rest] = pathname.split('/');
  if (base !== 'public' || version !== 'v2' || segment === undefined || !REST_SEGMENTS.has(segment) || rest.length) return 'unmatched';
  return id === undefined ? `/public/v2/${segment}` : `/public/v2/${segment}/{id}`;
}

export interface InstrumentationOptions {
  logger: Logger;
  metrics: Metrics;
  /** A request not answered by then gets 503 (the work itself is not interrupted). */
  timeoutMs: number;
  /** The request's trace id when tracing is on: its log line names it. */
  traceId?: () => string | undefined;
}

type Handler = (request: Request, connection?: ClientConnection) => Promise<Response>;

export function instrument(handle: Handler, { logger, metrics, timeoutMs, traceId }: InstrumentationOptions): Handler {
  return async (request, connection) => {
    const started = performance.now();
    const url = new URL(request.url);
    const surface = surfaceOf(url.pathname);
    const route = routeOf(url.pathname);
    const given = request.headers.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Response>((resolve) => {
      timer = setTimeout(() => resolve(errorFor(surface, 503, 'REQUEST_TIMEOUT', `the request was not answered within ${timeoutMs} ms`)), timeoutMs);
    });
    let response: Response;
    try {
      response = await Promise.race([handle(request, connection), deadline]);
    } catch (error) {
      logger.error({ err: error, requestId }, 'request failed outside the surfaces');
      response = errorFor(surface, 500, 'INTERNAL_SERVER_ERROR', 'An unexpected error occurred.');
    } finally {
      clearTimeout(timer);
    }
    response = withHeader(response, 'X-Request-Id', requestId);

    const seconds = (performance.now() - started) / 1000;
    metrics.httpRequests.inc({ surface, route, method: request.method, status: String(response.status) });
    metrics.httpDuration.observe({ surface, route, method: request.method }, seconds);
    logger.info(
      {
        requestId,
        ...(traceId && { traceId: traceId() }),
        method: request.method,
        route,
        path: url.pathname,
        status: response.status,
        ms: Math.round(seconds * 1000 * 10) / 10,
      },
      'request',
    );
    return response;
  };
}

function withHeader(response: Response, name: string, value: string): Response {
  try {
    response.headers.set(name, value);
    return response;
  } catch {
    // Some responses have immutable headers: copy it.
    const copy = new Response(response.body, response);
    copy.headers.set(name, value);
    return copy;
  }
}
