// OpenTelemetry traces, on only when an OTLP endpoint is configured. Off, nothing of
// OpenTelemetry is even loaded (the SDK comes in by a dynamic import, in
// ./tracing-sdk.ts) and requests are served without a wrapper: tracing costs nothing
// unless it is asked for.
import type { Plugin } from 'graphql-yoga';
import type { TracingSettings } from '../config.js';
import type { Logger } from './logger.js';

type Handler<Connection> = (request: Request, connection?: Connection) => Promise<Response>;

export interface Tracing {
  /**
   * One SERVER span around each request (continuing the caller's trace when it sends a
   * W3C `traceparent`): the parent of the GraphQL execution and SQL spans it causes.
   * `routeOf` names the span by route pattern, never by raw path.
   */
  traceRequests<Connection>(handle: Handler<Connection>, routeOf: (pathname: string) => string): Handler<Connection>;
  /** A span per GraphQL execution at /graphql (graphql-yoga plugin). */
  graphqlPlugin: Plugin;
  /** The same for the operations the JSON:API surface runs on the schema without the GraphQL server. */
  traceOperation<T>(name: string, run: () => Promise<T>): Promise<T>;
  /** The trace id of the request being served, for its log line. */
  currentTraceId(): string | undefined;
  /** Sends the spans still buffered and stops tracing (rejects when they could not be sent). */
  shutdown(): Promise<void>;
}

/**
 * Starts exporting traces over OTLP/HTTP when the configuration asks for it (src/config.ts,
 * `tracing`); otherwise undefined, and nothing registered.
 */
export async function startTracing(settings: TracingSettings | undefined, logger?: Logger): Promise<Tracing | undefined> {
  if (!settings) return undefined;
  const { createTracing, otlpSpanProcessor } = await import('./tracing-sdk.js');
  return createTracing({ spanProcessor: await otlpSpanProcessor(), serviceName: settings.serviceName, logger });
}
