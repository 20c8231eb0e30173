// Tracing off (no OTLP endpoint, the default): nothing of OpenTelemetry's SDK is loaded,
// nothing is registered, no Prisma tracing hook is set.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import '../../src/http/app.ts';
import { tracingSettings } from '../../src/config.ts';
import { startTracing } from '../../src/observability/tracing.ts';

const OTEL_API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
const require = createRequire(import.meta.url);

/** OpenTelemetry's packages loaded so far, but the API (prom-client loads it for exemplars; alone it registers nothing). */
const loadedTracingPackages = () =>
  Object.keys(require.cache)
    .map((file) => /node_modules\/(@opentelemetry\/[^/]+|@prisma\/instrumentation|@envelop\/opentelemetry)\//.exec(file)?.[1])
    .filter((name) => name && name !== '@opentelemetry/api');

describe('tracing off', () => {
  it('is wanted only with an OTLP endpoint, and not when OTEL_SDK_DISABLED=true', () => {
    expect(tracingSettings({})).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_SERVICE_NAME: 'gateway' })).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({});
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_SERVICE_NAME: ' gateway ' })).toEqual({
      serviceName: 'gateway',
    });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
  });

  it('with no endpoint, loads and starts nothing: no SDK module, no tracer provider, context manager or Prisma hook', async () => {
    expect(await startTracing(tracingSettings({ OTEL_SERVICE_NAME: 'anything' }))).toBeUndefined();
    expect(loadedTracingPackages()).toEqual([]);
    // The OpenTelemetry API keeps what is registered under this global; it is not even created.
    expect((globalThis as Record<symbol, unknown>)[OTEL_API_GLOBAL]).toBeUndefined();
    expect((globalThis as Record<string, unknown>).V7_PRISMA_INSTRUMENTATION).toBeUndefined();
    expect((globalThis as Record<string, unknown>).PRISMA_INSTRUMENTATION).toBeUndefined();
  });
});
