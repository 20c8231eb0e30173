// OpenTelemetry traces, on only when an OTLP endpoint is configured. Off, nothing of
// OpenTelemetry is even loaded (the SDK comes in by a dynamic import, in
// ./tracing-sdk.ts) and requests are served without a wrapper: tracing costs nothing
// unless it is asked for.
import type { Plugin } from 'graphql-yoga';
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

/** Tracing is wanted when an OTLP endpoint is set and the SDK is not switched off. */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts exporting traces over OTLP/HTTP when the environment asks for it (the exporter
 * reads the standard OTEL_EXPORTER_OTLP_* variables itself); otherwise undefined, and
 * nothing registered.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env, logger?: Logger): Promise<Tracing | undefined> {
  if (!tracingWanted(env)) return undefined;
  const { createTracing, otlpSpanProcessor } = await import('./tracing-sdk.js');
  return createTracing({ spanProcessor: await otlpSpanProcessor(), serviceName: env.OTEL_SERVICE_NAME?.trim() || undefined, logger });
}
