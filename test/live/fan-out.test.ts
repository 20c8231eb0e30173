// Two instances on ONE PostgreSQL database: with Redis, a WebSocket subscriber on
// instance A hears of changes made over HTTP on instance B; with in-process buses only
// (no Redis) it does not, which is what makes the first half mean something.
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/database/client.ts';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { createApp } from '../../src/http/app.ts';
import { serve, type RunningServer } from '../../src/http/serve.ts';
import { redisAnswers } from '../support/redis.ts';
import { createTestTenant, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newFlow, newThread } from '../support/fixtures.ts';
import { fence, subscribeWs, triggerOperation, untilListening, wsClient } from './live-support.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.TEST_DATABASE_URL;

const hasRedis = DATABASE_URL ? await redisAnswers() : false;
const skipReason = !DATABASE_URL ? 'TEST_DATABASE_URL is not set' : !hasRedis ? `Redis does not answer at ${REDIS_URL}` : undefined;
if (skipReason) console.log(`fan-out.test.ts: two-instance fan-out tests skipped: ${skipReason}`);

interface Instance {
  db: Database;
  bus: FlowRunChangeBus;
  server: RunningServer;
}

async function startInstance(db: Database, bus: FlowRunChangeBus): Promise<Instance> {
  const app = createApp({ db, services: { clock: systemClock, changes: bus }, changeFeed: bus });
  return { db, bus, server: await serve(app, 0, '127.0.0.1') };
}

/** POST /graphql to a real instance over HTTP. */
async function graphqlOver(instance: Instance, key: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(`http://127.0.0.1:${instance.server.port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: key },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

describe.skipIf(!!skipReason)('two instances on one PostgreSQL', () => {
  let dbA: TestDatabase;
  let dbB: Database;
  let org: TestTenant;
  let flowId: string;
  const clients: Client[] = [];
  const instances: Instance[] = [];
  const trigger = async (on: Instance, messageThreadId: string) =>
    triggerOperation.run(await graphqlOver(on, org.key, triggerOperation.query, { i: { flowId, messageThreadId, state: {}, initialMessage: {} } }));
  const patch = (on: Instance, id: string, input: Record<string, unknown>) =>
    graphqlOver(on, org.key, 'mutation($id: UUID!, $i: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $i) { flowRun { id } } }', {
      id,
      i: input,
    });
  const subscribeOn = (on: Instance, messageThreadId: string) => {
    const client = wsClient(on.server.port, org.key);
    clients.push(client);
    return subscribeWs(client, { messageThreadId });
  };

  async function pair(redisUrl: string | undefined): Promise<[Instance, Instance]> {
    const a = await startInstance(dbA, createFlowRunChangeBus({ redisUrl }));
    const b = await startInstance(dbB, createFlowRunChangeBus({ redisUrl }));
    instances.push(a, b);
    return [a, b];
  }

  beforeAll(async () => {
    dbA = await openTestDatabase({ name: 'postgresql', serverUrl: DATABASE_URL });
    dbB = await openDatabase({ databaseUrl: dbA.url });
    org = await createTestTenant(dbA);
    flowId = await newFlow(org.tenant, 'Fan-out');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    for (const instance of instances) {
      await instance.server.close(1_000);
      await instance.bus.close();
    }
    await dbB?.close();
    await dbA?.close();
  });

  it('with Redis: a subscriber on A hears the trigger and patch made over HTTP on B', async () => {
    const [a, b] = await pair(REDIS_URL);
    const messageThreadId = await newThread(org.tenant, 'fan-out');
    const sub = subscribeOn(a, messageThreadId);
    try {
      // Probes published on B's bus reach A only through Redis.
      await untilListening(sub.inbox, b.bus, { organizationId: org.organizationId, messageThreadId });
      const run = await trigger(b, messageThreadId);
      await patch(b, run.id, { status: 'finished' });
      const changes = await sub.inbox.changesUpTo(2);
      expect(changes).toMatchObject([
        { kind: 'triggered', flowRunId: run.id, status: 'running', flowRun: { id: run.id, status: 'running' } },
        { kind: 'updated', flowRunId: run.id, status: 'finished', flowRun: { id: run.id, status: 'finished' } },
      ]);
    } finally {
      await sub.close();
    }
  });

  it('without Redis (in-process buses): A does not hear what happens on B', async () => {
    const [a, b] = await pair(undefined);
    const messageThreadId = await newThread(org.tenant, 'fan-out');
    const sub = subscribeOn(a, messageThreadId);
    try {
      await untilListening(sub.inbox, a.bus, { organizationId: org.organizationId, messageThreadId });
      const fromB = await trigger(b, messageThreadId);
      await patch(b, fromB.id, { status: 'finished' });
      // A change made on A afterwards does arrive, and alone.
      const fromA = await trigger(a, messageThreadId);
      const changes = await sub.inbox.changesUpTo(1);
      await fence(sub.inbox, a.bus, { organizationId: org.organizationId, messageThreadId });
      expect(changes[0]).toMatchObject({ kind: 'triggered', flowRunId: fromA.id });
      expect(sub.inbox.changes().map((change) => change.flowRunId)).toEqual([fromA.id]);
    } finally {
      await sub.close();
    }
  });
});
