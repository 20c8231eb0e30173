// GET /metrics: Prometheus text, behind METRICS_TOKEN when one is set. Served by the app on
// the main port, or, with METRICS_PORT, only by a listener of its own (so the main port,
// the one exposed to clients, has no /metrics at all). On the main port without a token it
// answers only clients on this machine: routes, statuses, latencies and the webhook queue
// are the operator's to see, not whoever reaches the port.
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerAdapter } from '@whatwg-node/server';
import type { Metrics } from '../observability/metrics.js';
import { type ClientConnection, isLoopbackClient } from '../request/client-connection.js';
import { errorFor } from './error-response.js';

export interface MetricsAccess {
  /** Only `Authorization: Bearer <token>` is answered. */
  token?: string;
  /** Only clients on this machine are answered (src/request/client-connection.ts). */
  localOnly?: boolean;
}

/** Answers a request for /metrics (whatever its path: the caller routes). */
export function metricsEndpoint(
  metrics: Metrics,
  { token, localOnly = false }: MetricsAccess = {},
): (request: Request, connection?: ClientConnection) => Promise<Response> {
  return async (request, connection) => {
    if (localOnly && !isLoopbackClient(request.headers, connection)) {
      return errorFor(
        'graphql',
        403,
        'FORBIDDEN',
        'metrics are answered only on this machine; set METRICS_TOKEN or METRICS_PORT to scrape them from elsewhere',
      );
    }
    if (token && !hasMetricsToken(request.headers, token)) {
      return errorFor('graphql', 401, 'UNAUTHENTICATED', 'send the metrics token as Authorization: Bearer <token>');
    }
    return new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } });
  };
}

/** Compared in constant time: the token guards what the service tells about its load. */
function hasMetricsToken(headers: Headers, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(headers.get('authorization') ?? '')?.[1]?.trim() ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** The listener METRICS_PORT asks for: GET /metrics and nothing else. */
export async function serveMetrics(options: { metrics: Metrics; token?: string; port: number; host?: string }): Promise<MetricsServer> {
  // The operator chose to expose this port (to the scraper alone): whoever reaches it may scrape, with the token if one is set.
  const answer = metricsEndpoint(options.metrics, { token: options.token });
  const adapter = createServerAdapter((request: Request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== '/metrics') return errorFor('graphql', 404, 'ROUTE_NOT_FOUND', 'only /metrics is served on this port');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return errorFor('graphql', 405, 'METHOD_NOT_ALLOWED', 'this method is not allowed here', { allow: 'GET, HEAD' });
    }
    return answer(request);
  });
  const server = createServer(adapter);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's kept-alive connection must not hold the process open.
        server.closeAllConnections();
      }),
  };
}
