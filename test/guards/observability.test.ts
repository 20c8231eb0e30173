// What operators see: Prometheus metrics at /metrics (requests by route pattern and
// status, latency histograms, GraphQL operations, the database pool), a request id on
// every response, and one JSON log line per request that never holds an API key or a
// run's state.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import type { Logger } from '../../src/observability/logger.ts';
import { databaseTargets, openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import { at } from '../support/items.ts';
import { createFixture, type Fixture, graphqlRequest, LOCAL_CLIENT, rest, send } from './support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in the Prometheus text format. */
function samples(text: string, name: string): Sample[] {
  const result: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
    result.push({ labels, value: Number(match[3]) });
  }
  return result;
}

/** A pino logger writing into memory: the lines it wrote, parsed, and the raw text. */
function memoryLogger() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'info', base: { service: 'flow-run-gateway' } }, stream) as unknown as Logger;
  return {
    logger,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe.each(databaseTargets())('observability on $name', (target) => {
  let db: TestDatabase;
  let key: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    key = (await createTestTenant(db)).key;
  });
  afterAll(() => db?.close());

  describe('/metrics', () => {
    let app: App;
    let fixture: Fixture;
    let metrics: string;
    const missingId = randomUUID();

    beforeAll(async () => {
      app = createApp({ db });
      fixture = await createFixture(app, key, 'metrics');
      expect((await rest(app, 'GET', `/public/v2/flow-runs/${fixture.runningRunId}`, key)).status).toBe(200);
      expect((await rest(app, 'GET', `/public/v2/flow_runs/${fixture.queuedRunId}`, key)).status).toBe(200);
      expect((await rest(app, 'GET', `/public/v2/flow-runs/${missingId}`, key)).status).toBe(404);
      expect((await rest(app, 'GET', '/public/v2/flow-runs/not-an-id/extra', key)).status).toBe(404);
      expect((await rest(app, 'GET', '/public/v2/flows', key)).status).toBe(200);
      expect((await graphqlRequest(app, key, { query: '{ flows(first: 2) { totalCount } }' })).status).toBe(200);
      expect((await graphqlRequest(app, key, { query: '{ flowRun(id: "00000000-0000-4000-8000-000000000000") { id } }' })).status).toBe(200);
      expect(
        (await graphqlRequest(app, key, { query: 'mutation { deleteFlowRun(id: "00000000-0000-4000-8000-000000000000") { deletedId } }' })).status,
      ).toBe(200);
      const response = await send(app, { method: 'GET', path: '/metrics' }, LOCAL_CLIENT);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      metrics = response.text;
    });

    it('http_requests_total by surface, route pattern, method and status', () => {
      const requests = samples(metrics, 'http_requests_total');
      const count = (labels: Record<string, string>) =>
        requests.find((sample) => Object.entries(labels).every(([k, v]) => sample.labels[k] === v))?.value ?? 0;
      expect(count({ surface: 'rest', route: '/public/v2/flow-runs/{id}', method: 'GET', status: '200' })).toBe(1);
      expect(count({ surface: 'rest', route: '/public/v2/flow_runs/{id}', method: 'GET', status: '200' })).toBe(1);
      expect(count({ surface: 'rest', route: '/public/v2/flow-runs/{id}', method: 'GET', status: '404' })).toBe(1);
      expect(count({ surface: 'rest', route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
      expect(count({ surface: 'rest', route: '/public/v2/flows', method: 'GET', status: '200' })).toBe(1);
      // The fixture: a flow, two threads and two runs created.
      expect(count({ surface: 'rest', route: '/public/v2/flow-runs', method: 'POST', status: '201' })).toBe(2);
      expect(count({ surface: 'graphql', route: '/graphql', method: 'POST', status: '200' })).toBe(3);
      for (const sample of requests) {
        expect(Object.keys(sample.labels).sort()).toEqual(['method', 'route', 'status', 'surface']);
        expect(sample.labels.route).toMatch(/^(\/public\/v2\/[\w-]+(\/\{id\})?|\/graphql|\/healthz|\/readyz|\/metrics|unmatched)$/);
      }
      // Never a raw id in a label, whatever the path held.
      for (const id of [fixture.runningRunId, fixture.queuedRunId, missingId, 'not-an-id']) expect(metrics).not.toContain(id);
    });

    it('http_request_duration_seconds is a histogram by route pattern', () => {
      const buckets = samples(metrics, 'http_request_duration_seconds_bucket').filter(
        (sample) => sample.labels.route === '/public/v2/flow-runs/{id}' && sample.labels.method === 'GET',
      );
      expect(buckets.length).toBeGreaterThan(5);
      // The running run (200) and the missing one (404); flow_runs/{id} is a route of its own.
      const infinite = buckets.find((sample) => sample.labels.le === '+Inf');
      expect(infinite?.value).toBe(2);
      const counts = samples(metrics, 'http_request_duration_seconds_count');
      expect(counts.find((sample) => sample.labels.route === '/graphql')?.value).toBe(3);
      expect(samples(metrics, 'http_request_duration_seconds_sum').length).toBeGreaterThan(0);
      expect(metrics).toContain('# TYPE http_request_duration_seconds histogram');
    });

    it('graphql_operations_total by operation type, root field and outcome', () => {
      const operations = samples(metrics, 'graphql_operations_total');
      const find = (labels: Record<string, string>) =>
        operations.find((sample) => Object.entries(labels).every(([k, v]) => sample.labels[k] === v))?.value;
      expect(find({ type: 'query', field: 'flows', outcome: 'ok' })).toBe(1);
      expect(find({ type: 'query', field: 'flowRun', outcome: 'ok' })).toBe(1);
      expect(find({ type: 'mutation', field: 'deleteFlowRun', outcome: 'error' })).toBe(1);
    });

    it('process metrics, and the connection pool on PostgreSQL', () => {
      expect(samples(metrics, 'process_cpu_seconds_total')).toHaveLength(1);
      expect(metrics).toContain('# TYPE rate_limit_rejections_total counter');
      const pool = samples(metrics, 'db_pool_connections');
      if (target.name === 'postgresql') {
        expect(pool.map((sample) => sample.labels.state).sort()).toEqual(['busy', 'idle', 'waiting']);
        const idle = pool.find((sample) => sample.labels.state === 'idle')!;
        expect(idle.value).toBeGreaterThanOrEqual(1);
      } else {
        // The embedded database has one connection and no pool.
        expect(pool).toEqual([]);
      }
    });
  });

  describe('request ids', () => {
    it('every response carries X-Request-Id: a sane incoming one is echoed, anything else replaced', async () => {
      const app = createApp({ db, rateLimiter: createRateLimiter({ perMinute: 1 }) });
      const responses = await Promise.all([
        send(app, { method: 'GET', path: '/healthz' }),
        send(app, { method: 'GET', path: '/readyz' }),
        send(app, { method: 'GET', path: '/metrics' }, LOCAL_CLIENT),
        rest(app, 'GET', '/public/v2/flows', key),
        rest(app, 'GET', '/public/v2/flows', undefined),
        rest(app, 'GET', '/public/v2/nothing-here', key),
        graphqlRequest(app, key, { query: '{ bogus }' }),
        send(app, { method: 'POST', path: '/graphql', headers: { 'content-length': String(2 * 1024 * 1024) }, body: 'x' }),
      ]);
      // Over its rate (1 a minute): the 429 carries one too.
      const limited = await rest(app, 'GET', '/public/v2/flows', key);
      expect(limited.status).toBe(429);
      for (const response of [...responses, limited]) expect(response.headers.get('x-request-id')).toMatch(UUID);
      expect(new Set([...responses, limited].map((r) => r.headers.get('x-request-id'))).size).toBe(responses.length + 1);

      for (const sane of ['abc-123', 'trace.span:7_x', 'A'.repeat(128)]) {
        const response = await send(app, { method: 'GET', path: '/healthz', headers: { 'X-Request-Id': sane } });
        expect(response.headers.get('x-request-id')).toBe(sane);
      }
      for (const hostile of ['A'.repeat(1000), 'has spaces', 'semi;colon', '<script>', 'caf\u00e9', '"quoted"', '']) {
        const response = await send(app, { method: 'GET', path: '/healthz', headers: { 'X-Request-Id': hostile } });
        const id = response.headers.get('x-request-id');
        expect(id).toMatch(UUID);
        expect(id).not.toBe(hostile);
      }
    });
  });

  describe('logs', () => {
    it('one JSON line per request with requestId, method, route, status and ms; no API key, no state', async () => {
      const memory = memoryLogger();
      const app = createApp({ db, logger: memory.logger });
      const secretState = `state-secret-${randomUUID()}`;
      const patchedState = `patched-secret-${randomUUID()}`;
      const flow = await rest(app, 'POST', '/public/v2/flows', key, { data: { type: 'flows', attributes: { name: 'logged' } } });
      const thread = await rest(app, 'POST', '/public/v2/message-threads', `Bearer ${key}`, {
        data: { type: 'messageThreads', attributes: { channel: 'web', identifier: `log-${randomUUID()}` } },
      });
      const flowId = (flow.json as { data: { id: string } }).data.id;
      const threadId = (thread.json as { data: { id: string } }).data.id;
      const trigger = (state: unknown) =>
        rest(app, 'POST', '/public/v2/flow-runs', key, {
          data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threadId, state, initialMessage: {} } },
        });
      const running = await trigger({ secret: secretState });
      const queued = await trigger({ secret: secretState });
      expect([running.status, queued.status]).toEqual([201, 201]);
      const queuedId = (queued.json as { data: { id: string } }).data.id;
      const requests: { response: Awaited<ReturnType<typeof send>>; method: string; route: string }[] = [
        { response: flow, method: 'POST', route: '/public/v2/flows' },
        { response: thread, method: 'POST', route: '/public/v2/message-threads' },
        { response: running, method: 'POST', route: '/public/v2/flow-runs' },
        { response: queued, method: 'POST', route: '/public/v2/flow-runs' },
      ];
      const more: [() => Promise<Awaited<ReturnType<typeof send>>>, string, string][] = [
        [
          () =>
            rest(app, 'PATCH', `/public/v2/flow-runs/${queuedId}`, key, {
              data: { type: 'flowRuns', id: queuedId, attributes: { state: { secret: patchedState } } },
            }),
          'PATCH',
          '/public/v2/flow-runs/{id}',
        ],
        // A rejected one: state of the wrong type, echoed nowhere.
        [
          () =>
            rest(app, 'POST', '/public/v2/flow-runs', key, {
              data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threadId, state: [secretState], initialMessage: {} } },
            }),
          'POST',
          '/public/v2/flow-runs',
        ],
        [
          () =>
            graphqlRequest(app, key, {
              query: 'mutation($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { __typename } }',
              variables: { input: { flowId, messageThreadId: threadId, state: { secret: secretState }, initialMessage: {} } },
            }),
          'POST',
          '/graphql',
        ],
        [() => rest(app, 'GET', `/public/v2/flow-runs?filter[messageThreadId]=${threadId}`, key), 'GET', '/public/v2/flow-runs'],
        [() => rest(app, 'GET', '/public/v2/flows', 'Bearer not-a-key-but-still-secret'), 'GET', '/public/v2/flows'],
        [() => send(app, { method: 'GET', path: '/healthz', headers: { 'X-Request-Id': 'given-id-1' } }), 'GET', '/healthz'],
      ];
      for (const [request, method, route] of more) requests.push({ response: await request(), method, route });
      expect(requests.map((r) => r.response.status)).toEqual([201, 201, 201, 201, 200, 400, 200, 200, 401, 200]);

      const lines = memory.lines();
      expect(lines).toHaveLength(requests.length);
      lines.forEach((line, i) => {
        const { response, method, route } = at(requests, i);
        expect(line).toMatchObject({
          level: 30,
          msg: 'request',
          requestId: response.headers.get('x-request-id'),
          method,
          route,
          status: response.status,
        });
        expect(typeof line.ms).toBe('number');
        expect(line.ms as number).toBeGreaterThanOrEqual(0);
        expect(typeof line.time).toBe('number');
      });
      expect(lines.at(-1)?.requestId).toBe('given-id-1');

      const text = memory.text();
      for (const secret of [key, 'not-a-key-but-still-secret', secretState, patchedState]) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/authorization/i);
      expect(text).not.toMatch(/"state"/);
    });
  });
});
