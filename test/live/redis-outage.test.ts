// Redis goes away and comes back: two instances on one PostgreSQL database, each with its
// own change bus and rate limiter reaching Redis through a TCP proxy that the test cuts.
// While it is cut, both instances keep answering (no 5xx, nothing unhandled), rate limits
// fall back to each instance's memory, a subscriber still hears changes made on its own
// instance and failed publishes are counted; once it is restored, changes made on B
// reach a subscriber on A again without a restart.
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { type Database, openDatabase } from '../../src/database/client.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createClientLimits } from '../../src/http/client-limits.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { serve, type RunningServer } from '../../src/http/serve.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createRedisClient } from '../../src/redis.ts';
import { redisAnswers } from '../support/redis.ts';
import { createTestTenant, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { at, exactly } from '../support/items.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { subscribeWs, triggerOperation, untilListening, wsClient, type LiveSubscription } from './live-support.ts';

const REDIS_PORT = 6379;
const DATABASE_URL = process.env.TEST_DATABASE_URL;
const PER_MINUTE = 25;

const skipReason = !DATABASE_URL
  ? 'TEST_DATABASE_URL is not set'
  : !(await redisAnswers())
    ? `Redis does not answer at 127.0.0.1:${REDIS_PORT}`
    : undefined;
if (skipReason) console.log(`redis-outage.test.ts: Redis outage tests skipped: ${skipReason}`);

interface Instance {
  name: string;
  app: App;
  bus: FlowRunChangeBus;
  limiterRedis: Redis;
  server: RunningServer;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.skipIf(!!skipReason)('Redis cut and restored under two instances', () => {
  let proxy: TcpProxy;
  let dbA: TestDatabase;
  let dbB: Database;
  let org: TestTenant;
  let otherKey: string;
  let flowId: string;
  const instances: Instance[] = [];
  const clients: Client[] = [];
  const subscriptions: LiveSubscription[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  async function startInstance(name: string, db: Database): Promise<Instance> {
    const redisUrl = `redis://127.0.0.1:${proxy.port}`;
    const metrics = createMetrics();
    const bus = createFlowRunChangeBus({ redisUrl, metrics });
    const limiterRedis = createRedisClient(redisUrl, { role: 'rate-limit' });
    // One prefix per run: nothing of an earlier run counts.
    const keyPrefix = `flowgw-outage-${randomUUID()}`;
    const rateLimiter = createRateLimiter({ perMinute: PER_MINUTE, redis: limiterRedis, keyPrefix });
    const clientLimits = createClientLimits({ authFailuresPerMinute: 20, keylessPerMinute: 60, redis: limiterRedis, keyPrefix });
    const services = { clock: systemClock, changes: bus };
    const app = createApp({ db, metrics, services, changeFeed: bus, rateLimiter, clientLimits });
    return { name, app, bus, limiterRedis, server: await serve(app, 0, '127.0.0.1') };
  }

  const url = (on: Instance, path: string) => `http://127.0.0.1:${on.server.port}${path}`;

  async function graphql(on: Instance, key: string, query: string, variables: Record<string, unknown> = {}) {
    const response = await fetch(url(on, '/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: key },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as { data?: any; errors?: unknown[] } };
  }
  async function rest(on: Instance, key: string, method: string, path: string, body?: unknown) {
    const response = await fetch(url(on, path), {
      method,
      headers: { authorization: key, ...(body !== undefined && { 'content-type': 'application/vnd.api+json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { data?: any } };
  }
  async function newThread(on: Instance) {
    const created = await rest(on, org.key, 'POST', '/public/v2/message-threads', {
      data: { type: 'messageThreads', attributes: { channel: 'web', identifier: `outage-${randomUUID()}` } },
    });
    expect(created.status).toBe(201);
    return created.body.data.id as string;
  }
  async function trigger(on: Instance, messageThreadId: string) {
    const result = await graphql(on, org.key, triggerOperation.query, { i: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    return { status: result.status, run: result.body.data ? triggerOperation.run(result.body.data) : undefined };
  }
  function subscribeOn(on: Instance, messageThreadId: string) {
    const client = wsClient(on.server.port, org.key);
    clients.push(client);
    const subscription = subscribeWs(client, { messageThreadId });
    subscriptions.push(subscription);
    return subscription;
  }
  async function metric(on: Instance, name: string) {
    const text = await (await fetch(url(on, '/metrics'))).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : 0;
  }

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    proxy = await startTcpProxy(REDIS_PORT);
    dbA = await openTestDatabase({ name: 'postgresql', serverUrl: DATABASE_URL });
    dbB = await openDatabase({ databaseUrl: dbA.url });
    org = await createTestTenant(dbA);
    otherKey = (await createTestTenant(dbA, 'write', 'Other org')).key;
    instances.push(await startInstance('A', dbA), await startInstance('B', dbB));
    const created = await rest(at(instances, 0), org.key, 'POST', '/public/v2/flows', { data: { type: 'flows', attributes: { name: 'Outage' } } });
    flowId = created.body.data.id;
  });
  afterAll(async () => {
    proxy?.restore();
    for (const subscription of subscriptions) await subscription.close();
    await Promise.all(clients.map((client) => client.dispose()));
    for (const instance of instances) {
      await instance.server.close(1_000);
      await instance.bus.close().catch(() => {});
      instance.limiterRedis.disconnect();
    }
    await dbB?.close();
    await dbA?.close();
    await proxy?.close();
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  it('keeps answering while Redis is cut, degrades fan-out to each instance, and fans out again once it is back', async () => {
    const [a, b] = exactly(instances, 2, 'instances');
    const target = (messageThreadId: string) => ({ organizationId: org.organizationId, messageThreadId });

    // Before the cut: a change on B reaches a subscriber on A through Redis.
    const remoteThread = await newThread(b);
    const remote = subscribeOn(a, remoteThread);
    await untilListening(remote.inbox, b.bus, target(remoteThread));
    const before = await trigger(b, remoteThread);
    expect(before.status).toBe(200);
    expect((await remote.inbox.changesUpTo(1))[0]).toMatchObject({ kind: 'triggered', flowRunId: before.run!.id });

    proxy.cut();
    const localThread = await newThread(a);
    // Subscribed while Redis is away: it hears what happens on A at once...
    const local = subscribeOn(a, localThread);
    await untilListening(local.inbox, a.bus, target(localThread));

    const statuses: number[] = [];
    const record = async <T extends { status: number }>(request: Promise<T>) => {
      const result = await request;
      statuses.push(result.status);
      return result;
    };
    for (let round = 0; round < 3; round++) {
      for (const on of [a, b]) {
        await record(rest(on, org.key, 'GET', '/public/v2/flow-runs'));
        await record(rest(on, org.key, 'POST', '/public/v2/flows', { data: { type: 'flows', attributes: { name: `cut ${round}` } } }));
        await record(graphql(on, org.key, '{ flows(first: 5) { totalCount } }'));
        await record(rest(on, org.key, 'GET', `/public/v2/message-threads/${localThread}`));
        // The per-address budgets count in memory too: a wrong key and no key are 401s.
        expect((await record(rest(on, `frg_wrong_${round}`, 'GET', '/public/v2/flows'))).status).toBe(401);
        expect((await record(fetch(url(on, '/public/v2/flows')))).status).toBe(401);
      }
    }
    const during = await record(trigger(a, localThread));
    expect(during.status).toBe(200);
    await record(trigger(b, remoteThread));
    expect((await local.inbox.changesUpTo(1))[0]).toMatchObject({ kind: 'triggered', flowRunId: during.run!.id });

    // Rate limits hold per instance meanwhile: the other key's budget is counted in A's
    // memory (the 26th request on A is refused), and B counts on its own.
    const limited: number[] = [];
    for (let i = 0; i <= PER_MINUTE; i++) limited.push((await rest(a, otherKey, 'GET', '/public/v2/flows')).status);
    expect(limited.slice(0, PER_MINUTE).every((status) => status === 200)).toBe(true);
    expect(limited[PER_MINUTE]).toBe(429);
    statuses.push(...limited);
    statuses.push((await rest(b, otherKey, 'GET', '/public/v2/flows')).status);
    expect(statuses.at(-1)).toBe(200);

    const counts: Record<number, number> = {};
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
    console.log(`[redis outage] answered during the cut: ${statuses.length} requests, by status ${JSON.stringify(counts)}`);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(await metric(a, 'change_publish_failures_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(b, 'change_publish_failures_total')).toBeGreaterThanOrEqual(1);

    // Restored: both the subscription from before the cut and the one made during it hear
    // changes made on B again, without a restart.
    proxy.restore();
    const restored = performance.now();
    await untilListening(remote.inbox, b.bus, target(remoteThread), 20_000);
    const fanOutBackMs = performance.now() - restored;
    await untilListening(local.inbox, b.bus, target(localThread), 20_000);
    console.log(`[redis outage] fan-out between instances worked again ${Math.round(fanOutBackMs)} ms after Redis returned`);
    const after = await trigger(b, localThread);
    expect(after.status).toBe(200);
    const heard = await local.inbox.changesUpTo(2);
    expect(heard.map((change) => change.flowRunId)).toEqual([during.run!.id, after.run!.id]);

    await sleep(200);
    expect(unhandled).toEqual([]);
  });
});
