// Tracing on (as with OTEL_EXPORTER_OTLP_ENDPOINT set), with the spans kept in memory: one
// request is one trace, an HTTP server span at its root, the GraphQL execution (or the
// JSON:API adapter's operation) its child and the SQL statements below, on both databases.
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTracing } from '../../src/observability/tracing-sdk.ts';
import type { Tracing } from '../../src/observability/tracing.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
beforeAll(() => {
  tracing = createTracing({ spanProcessor: new SimpleSpanProcessor(exporter) });
});
afterAll(() => tracing.shutdown());

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

/** The chain of span ids from `span` up to its root, within `spans`. */
function ancestors(span: ReadableSpan, spans: ReadableSpan[]): string[] {
  const byId = new Map(spans.map((each) => [idOf(each), each]));
  const chain: string[] = [];
  for (let parent = byId.get(parentOf(span) ?? ''); parent; parent = byId.get(parentOf(parent) ?? '')) chain.push(idOf(parent));
  return chain;
}

/** A SQL statement's span: Prisma's, or the row reader's for the reads that bypass Prisma (src/database/row-reader.ts). */
const isStatement = (span: { name: string }) => span.name === 'prisma:client:db_query' || span.name === 'db_query';
describe.each(databaseTargets())('traces on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let tenant: TestTenant;
  const logged: Record<string, unknown>[] = [];

  beforeAll(async () => {
    db = await openTestDatabase(target);
    tenant = await createTestTenant(db);
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    app = createApp({ db, tracing, logger });
  });
  afterAll(() => db?.close());
  beforeEach(() => exporter.reset());

  it('a GraphQL request: HTTP span, its execution span as child, SQL spans below the execution', async () => {
    const response = await app.fetch(
      new Request('http://test/graphql', {
        method: 'POST',
        headers: { authorization: tenant.key, 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query Runs { flowRuns(first: 5) { totalCount edges { node { id flow { name } } } } }' }),
      }),
    );
    expect(response.status).toBe(200);
    const spans = exporter.getFinishedSpans();

    const http = spans.find((span) => span.kind === SpanKind.SERVER);
    expect(http).toMatchObject({
      name: 'POST /graphql',
      attributes: { 'http.request.method': 'POST', 'http.route': '/graphql', 'http.response.status_code': 200 },
    });
    expect(parentOf(http!)).toBeUndefined();
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([http!.spanContext().traceId]));

    const execution = spans.find((span) => span.name === 'query.Runs');
    expect(execution).toMatchObject({ kind: SpanKind.INTERNAL, attributes: { 'graphql.execute.operationType': 'query' } });
    expect(parentOf(execution!)).toBe(idOf(http!));

    const statements = spans.filter(isStatement);
    const underExecution = statements.filter((span) => ancestors(span, spans).includes(idOf(execution!)));
    // The page and its count at least; the key's look-up comes before execution, under the HTTP span.
    expect(underExecution.length).toBeGreaterThanOrEqual(2);
    expect(underExecution.map((span) => span.attributes['db.query.text']).join('\n')).toMatch(/"FlowRun"/);
    for (const statement of statements) expect(ancestors(statement, spans)).toContain(idOf(http!));
    // The request's log line names its trace.
    expect(logged.at(-1)).toMatchObject({ msg: 'request', traceId: http!.spanContext().traceId });
  });

  it("continues the caller's trace from a W3C traceparent, and a REST request is traced through its operation down to its SQL", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const response = await app.fetch(
      new Request('http://test/public/v2/flow-runs', {
        headers: { authorization: tenant.key, traceparent: `00-${traceId}-${callerSpan}-01` },
      }),
    );
    expect(response.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const http = spans.find((span) => span.kind === SpanKind.SERVER);
    expect(http).toMatchObject({ name: 'GET /public/v2/flow-runs', attributes: { 'http.route': '/public/v2/flow-runs' } });
    expect(http!.spanContext().traceId).toBe(traceId);
    expect(parentOf(http!)).toBe(callerSpan);
    // The adapter's operation on the schema has its execution span, as at /graphql.
    const execution = spans.find((span) => span.name === 'query.flowRuns.list');
    expect(execution).toMatchObject({ kind: SpanKind.INTERNAL, attributes: { 'graphql.execute.operationType': 'query' } });
    expect(parentOf(execution!)).toBe(idOf(http!));
    const statements = spans.filter(isStatement);
    expect(statements.length).toBeGreaterThanOrEqual(2);
    for (const statement of statements) {
      expect(statement.spanContext().traceId).toBe(traceId);
      expect(ancestors(statement, spans)).toContain(idOf(http!));
    }
    expect(statements.filter((span) => ancestors(span, spans).includes(idOf(execution!))).length).toBeGreaterThanOrEqual(2);
  });
});
