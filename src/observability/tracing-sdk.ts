// The OpenTelemetry SDK, loaded only when tracing is on (see ./tracing.ts). Three sources
// of spans share one trace per request: the HTTP span made here, GraphQL execution
// (@envelop/opentelemetry) and Prisma's own spans, SQL statements included
// (@prisma/instrumentation: Prisma 7's client reports them through a global hook, with
// the statement text and no parameter values).
import { useOpenTelemetry } from '@envelop/opentelemetry';
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  type Span,
  SpanStatusCode,
  trace,
  type TextMapGetter,
} from '@opentelemetry/api';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Plugin } from 'graphql-yoga';
import { traceStatements } from '../database/row-reader.js';
import type { Logger } from './logger.js';
import type { Tracing } from './tracing.js';

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** Batches spans to the OTLP/HTTP endpoint of OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. */
export async function otlpSpanProcessor(): Promise<SpanProcessor> {
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new BatchSpanProcessor(new OTLPTraceExporter());
}

export interface TracingOptions {
  /** Where finished spans go: the OTLP batch processor, or an in-memory one in tests. */
  spanProcessor: SpanProcessor;
  /** Default `flow-run-gateway`; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still apply. */
  serviceName?: string;
  /**
   * Where the SDK's own complaints go (a collector that cannot be reached, say): warn lines.
   * The service goes on either way; only its spans are lost.
   */
  logger?: Logger;
}

export function createTracing({ spanProcessor, serviceName = 'flow-run-gateway', logger }: TracingOptions): Tracing {
  if (logger) {
    // The SDK hands errors over as JSON text: logged as an error field where it is one.
    const warn = (message: string) => {
      const err = parsedError(message);
      if (err) logger.warn({ err }, `tracing: ${err.message}`);
      else logger.warn(`tracing: ${message}`);
    };
    diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }).merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [spanProcessor],
  });
  // Global: the AsyncLocalStorage context manager carries the request's span through every
  // await, where the GraphQL plugin and Prisma find it; and the W3C propagator.
  provider.register();
  const prisma = new PrismaInstrumentation();
  prisma.setTracerProvider(provider);
  prisma.enable();
  const tracer = provider.getTracer('flow-run-gateway');
  // The statements the service sends without Prisma (src/database/row-reader.ts), as
  // spans like Prisma's own: the query text, never its parameters.
  traceStatements((text, run) =>
    tracer.startActiveSpan('db_query', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.query.text': text } }, (span) =>
      endingSpan(span, run, () => false),
    ),
  );

  const graphqlPlugin = useOpenTelemetry(
    // Neither variables nor results: they may hold a run's state (personal data). The
    // document is kept only when it has no inline arguments, for the same reason.
    { resolvers: false, variables: false, result: false, document: true },
    provider,
    SpanKind.INTERNAL,
    {},
    'flow-run-gateway',
  ) as unknown as Plugin;

  return {
    graphqlPlugin,
    traceOperation(name, run) {
      const [operationType] = name.split('.');
      const attributes = { 'graphql.execute.operationName': name, 'graphql.execute.operationType': operationType };
      return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, (span) =>
        endingSpan(span, run, (result) => Boolean((result as { errors?: readonly unknown[] } | undefined)?.errors?.length)),
      );
    },
    currentTraceId: () => trace.getActiveSpan()?.spanContext().traceId,
    traceRequests(handle, routeOf) {
      return (request, connection) => {
        const url = new URL(request.url);
        const route = routeOf(url.pathname);
        const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
        const attributes = {
          'http.request.method': request.method,
          'http.route': route,
          'url.path': url.pathname,
          'url.scheme': url.protocol.replace(':', ''),
        };
        return tracer.startActiveSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER, attributes }, parent, (span) =>
          endingSpan(
            span,
            () => handle(request, connection),
            (response) => {
              span.setAttribute('http.response.status_code', response.status);
              return response.status >= 500;
            },
          ),
        );
      };
    },
    async shutdown() {
      prisma.disable();
      traceStatements(undefined);
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      }
    },
  };
}

function parsedError(text: string): { message: string } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string'
      ? (value as { message: string })
      : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `work` in `span` and ends it: failed when it throws or when `failed` judges its result so. */
async function endingSpan<T>(span: Span, work: () => Promise<T>, failed: (result: T) => boolean): Promise<T> {
  try {
    const result = await work();
    if (failed(result)) span.setStatus({ code: SpanStatusCode.ERROR });
    return result;
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
