// GraphQL over WebSocket has the guards HTTP has: a message is held to the body limit,
// every operation counts against the key's rate, a key holds a bounded number of
// subscriptions, and queries get the request deadline and show in /metrics.
import { randomUUID } from 'node:crypto';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { MAX_BODY_BYTES } from '../../src/request/body.ts';
import type { PrismaClient } from '../../src/database/generated/prisma/client.ts';
import type { RowReader } from '../../src/database/row-reader.ts';
import { type AppOptions, createApp } from '../../src/http/app.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { serve, type RunningServer } from '../../src/http/serve.ts';
import { createTestTenant, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { subscribeWs, within, wsClient } from './live-support.ts';

const RUNS_QUERY = '{ flowRuns(first: 100) { totalCount edges { node { id status flow { name } } } } }';

describe('GraphQL over WebSocket has the guards of HTTP', () => {
  let db: TestDatabase;
  let bus: FlowRunChangeBus;
  let org: TestTenant;
  const servers: RunningServer[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
    bus = createFlowRunChangeBus();
    org = await createTestTenant(db);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.dispose();
    for (const server of servers.splice(0)) await server.close(1_000);
  });
  afterAll(async () => {
    await bus?.close();
    await db?.close();
  });

  async function start(options: Partial<AppOptions> = {}) {
    const app = createApp({ db, services: { clock: systemClock, changes: bus }, changeFeed: bus, ...options });
    const server = await serve(app, 0, '127.0.0.1');
    servers.push(server);
    return { app, server };
  }
  const client = (port: number) => {
    const created = wsClient(port, org.key);
    clients.push(created);
    return created;
  };
  /** One query or mutation over the client: its result, errors included. */
  const once = (ws: Client, query: string) =>
    new Promise<{ data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }>((resolve, reject) => {
      let result: unknown;
      ws.subscribe(
        { query },
        {
          next: (value) => (result = value),
          // An operation refused before it runs arrives as a list of GraphQL errors.
          error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
          complete: () => resolve(result as never),
        },
      );
    });

  it('closes a connection that sends a message over the body limit (1009), and serves one under it', async () => {
    const { server } = await start();
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: org.key, padding: 'x'.repeat(MAX_BODY_BYTES + 1) } }));
    expect(await within(5_000, 'the close', closed)).toBe(1009);

    const result = await once(client(server.port), `{ flowRuns(first: 1) { totalCount } } # ${'x'.repeat(100_000)}`);
    expect(result.errors).toBeUndefined();
  });

  it('refuses a document over the alias or depth limit with QUERY_LIMIT_EXCEEDED, keeping the connection', async () => {
    const { server } = await start();
    const ws = client(server.port);
    const aliases = `subscription { ${Array.from({ length: 200 }, (_, i) => `a${i}: flowRunChanged { kind }`).join(' ')} }`;
    const deep = `{ flowRuns(first: 1) { edges { node { ${'flow { flowRuns(first: 1) { edges { node { '.repeat(8)}id${' } } } }'.repeat(8)} } } } }`;
    for (const query of [aliases, deep]) {
      // Before, the limit threw from inside validation: graphql-ws closed the connection with 4500.
      const result = await once(ws, query);
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(['QUERY_LIMIT_EXCEEDED']);
    }
    expect((await once(ws, '{ flowRuns(first: 1) { totalCount } }')).errors).toBeUndefined();
  });

  it('counts every operation against the key rate: over it, RATE_LIMITED', async () => {
    const { server } = await start({ rateLimiter: createRateLimiter({ perMinute: 5, keyPrefix: `ws-${randomUUID()}` }) });
    // One connection for all seven (a lazy client would reconnect, and init again, for each).
    const ws = createClient({
      url: `ws://127.0.0.1:${server.port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: org.key },
      retryAttempts: 0,
      lazy: false,
    });
    clients.push(ws);
    const results = [];
    for (let i = 0; i < 7; i++) results.push(await once(ws, '{ flowRuns(first: 1) { totalCount } }'));
    // connection_init takes one point, each operation one more.
    const codes = results.map((result) => result.errors?.[0]?.extensions?.code ?? 'ok');
    expect(codes).toEqual(['ok', 'ok', 'ok', 'ok', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('holds a key to its cap of concurrent subscriptions, and frees a place when one completes', async () => {
    const { server } = await start({ maxSubscriptionsPerKey: 2 });
    const first = client(server.port);
    const second = client(server.port);
    const a = subscribeWs(first, { messageThreadId: randomUUID() });
    const b = subscribeWs(second, { messageThreadId: randomUUID() });
    // The two are acknowledged once a query behind them on the same sockets is answered.
    await once(first, '{ flowRuns(first: 1) { totalCount } }');
    await once(second, '{ flowRuns(first: 1) { totalCount } }');
    const c = subscribeWs(first, { messageThreadId: randomUUID() });
    await within(5_000, 'the refusal', c.inbox.errorOrEnd());
    expect(JSON.stringify(c.inbox.endError ?? c.inbox.items)).toMatch(/SUBSCRIPTION_LIMIT_REACHED/);
    expect(a.inbox.ended || b.inbox.ended).toBe(false);

    await b.close();
    await second.dispose();
    const d = subscribeWs(first, { messageThreadId: randomUUID() });
    await once(first, '{ flowRuns(first: 1) { totalCount } }');
    expect(d.inbox.ended).toBe(false);
    await a.close();
    await d.close();
  });

  it('gives queries the request deadline (REQUEST_TIMEOUT) and counts them in /metrics', async () => {
    // Every run query of this app waits 400 ms first: far past its 50 ms deadline.
    const slowPrisma = db.prisma.$extends({
      query: {
        flowRun: {
          async $allOperations({ args, query }) {
            await new Promise((resolve) => setTimeout(resolve, 400));
            return query(args);
          },
        },
      },
    }) as unknown as PrismaClient;
    // Run lists are read without Prisma: their statements wait as long.
    const slowReader: RowReader = async (text, values) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      return db.reader(text, values);
    };
    const { app, server } = await start({ db: { ...db, prisma: slowPrisma, reader: slowReader }, requestTimeoutMs: 50 });
    const metricsBefore = await app.metrics.graphqlOperations.get();
    const result = await once(client(server.port), RUNS_QUERY);
    expect(result.errors?.[0]?.extensions?.code).toBe('REQUEST_TIMEOUT');
    // The abandoned work finishes on its own; let it, before the database closes.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const { server: patient, app: patientApp } = await start();
    expect((await once(client(patient.port), RUNS_QUERY)).errors).toBeUndefined();
    const counted = (await patientApp.metrics.graphqlOperations.get()).values.find(
      (value) => value.labels.type === 'query' && value.labels.field === 'flowRuns' && value.labels.outcome === 'ok',
    );
    expect(counted?.value).toBe(1);
    expect(metricsBefore.values.filter((value) => value.labels.field === 'flowRuns')).toEqual([]);
  });
});
