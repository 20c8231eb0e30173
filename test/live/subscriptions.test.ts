// flowRunChanged over both transports: SSE through the app's fetch handler and WebSocket
// (graphql-ws) against a real server. Changes arrive in order with the run resolved,
// scoped to one run or one thread, and never to another organization.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { sweepExpiredRuns } from '../../src/domain/session-timeouts.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { serve, type RunningServer } from '../../src/http/serve.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newFlow, newThread as threadOf } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { at } from '../support/items.ts';
import { fence, type LiveSubscription, subscribeSse, subscribeWs, triggerOperation, untilListening, within, wsClient } from './live-support.ts';

type Transport = 'SSE' | 'WebSocket';

describe.each(databaseTargets())('flowRunChanged subscription on $name', (target) => {
  let db: TestDatabase;
  let bus: FlowRunChangeBus;
  let app: App;
  let server: RunningServer;
  let org: TestTenant;
  let other: TestTenant;
  let flowId: string;
  let otherFlowId: string;
  const clients: Client[] = [];

  async function gql<T = Record<string, any>>(key: string, query: string, variables?: Record<string, unknown>) {
    const result = await sendGraphQL<T, Record<string, unknown>>(app, key, query, variables);
    expect(result.errors).toBeUndefined();
    return result.data!;
  }
  const newThread = (as = org) => threadOf(as.tenant, 'live');
  const trigger = async (messageThreadId: string, tenant = org, flow = flowId) =>
    triggerOperation.run(await gql(tenant.key, triggerOperation.query, { i: { flowId: flow, messageThreadId, state: {}, initialMessage: {} } }));
  const patch = (id: string, input: Record<string, unknown>) =>
    gql(org.key, 'mutation($id: UUID!, $i: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $i) { flowRun { id status } } }', {
      id,
      i: input,
    });
  const remove = (id: string) => gql(org.key, 'mutation($id: UUID!) { deleteFlowRun(id: $id) { deletedId } }', { id });

  async function subscribe(transport: Transport, key: string | undefined, variables: Record<string, unknown>) {
    if (transport === 'SSE') return subscribeSse((request) => app.fetch(request), key, variables);
    const client = wsClient(server.port, key);
    clients.push(client);
    return subscribeWs(client, variables);
  }

  beforeAll(async () => {
    db = await openTestDatabase(target);
    bus = createFlowRunChangeBus();
    app = createApp({ db, services: { clock: systemClock, changes: bus }, changeFeed: bus });
    server = await serve(app, 0, '127.0.0.1');
    org = await createTestTenant(db, 'write', 'Subscriber org');
    other = await createTestTenant(db, 'write', 'Other org');
    flowId = await newFlow(org.tenant, 'Live', 1);
    otherFlowId = await newFlow(other.tenant, 'Other');
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await server?.close(1_000);
    await bus?.close();
    await db?.close();
  });

  describe.each<Transport>(['SSE', 'WebSocket'])('over %s', (transport) => {
    it('by thread: triggered, updated, promoted and deleted arrive in order, with the run resolved', async () => {
      const messageThreadId = await newThread();
      const probe = { organizationId: org.organizationId, messageThreadId };
      const sub = await subscribe(transport, org.key, { messageThreadId });
      try {
        await untilListening(sub.inbox, bus, probe);

        const first = await trigger(messageThreadId);
        expect(first.status).toBe('running');
        let changes = await sub.inbox.changesUpTo(1);
        expect(changes[0]).toMatchObject({
          kind: 'triggered',
          flowRunId: first.id,
          messageThreadId,
          status: 'running',
          flowRun: { id: first.id, status: 'running' },
        });
        expect(Number.isNaN(Date.parse(at(changes, 0).at))).toBe(false);

        const second = await trigger(messageThreadId);
        expect(second.status).toBe('queued');
        changes = await sub.inbox.changesUpTo(2);
        expect(changes[1]).toMatchObject({ kind: 'triggered', flowRunId: second.id, status: 'queued', flowRun: { status: 'queued' } });

        await patch(second.id, { state: { step: 2 } });
        changes = await sub.inbox.changesUpTo(3);
        expect(changes[2]).toMatchObject({
          kind: 'updated',
          flowRunId: second.id,
          status: 'queued',
          flowRun: { id: second.id, status: 'queued', state: { step: 2 } },
        });

        // Finishing the running run promotes the queued one, announced in that order.
        await patch(first.id, { status: 'finished' });
        changes = await sub.inbox.changesUpTo(5);
        expect(changes[3]).toMatchObject({ kind: 'updated', flowRunId: first.id, status: 'finished', flowRun: { status: 'finished' } });
        expect(changes[4]).toMatchObject({ kind: 'promoted', flowRunId: second.id, status: 'running', flowRun: { status: 'running' } });

        await remove(second.id);
        changes = await sub.inbox.changesUpTo(6);
        expect(changes[5]).toMatchObject({ kind: 'deleted', flowRunId: second.id, messageThreadId, status: null, flowRun: null });

        await fence(sub.inbox, bus, probe);
        expect(sub.inbox.changes().map((change) => `${change.kind}:${change.status}`)).toEqual([
          'triggered:running',
          'triggered:queued',
          'updated:queued',
          'updated:finished',
          'promoted:running',
          'deleted:null',
        ]);
        expect(sub.inbox.items.every((item) => !item.errors)).toBe(true);
      } finally {
        await sub.close();
      }
    });

    it('by thread: a session timeout is announced, then the promotion', async () => {
      const messageThreadId = await newThread();
      const probe = { organizationId: org.organizationId, messageThreadId };
      const running = await trigger(messageThreadId);
      const queued = await trigger(messageThreadId);
      const sub = await subscribe(transport, org.key, { messageThreadId });
      try {
        await untilListening(sub.inbox, bus, probe);
        // The flow's session timeout is one minute: sweep as if two had passed.
        const later = new Date(Date.now() + 2 * 60_000);
        await sweepExpiredRuns(db.prisma, { clock: { now: () => later }, changes: bus });
        const changes = await sub.inbox.changesUpTo(2);
        expect(changes.slice(0, 2)).toMatchObject([
          { kind: 'timedOut', flowRunId: running.id, status: 'timeout', flowRun: { status: 'timeout' } },
          { kind: 'promoted', flowRunId: queued.id, status: 'running' },
        ]);
      } finally {
        await sub.close();
      }
    });

    it("by run: only that run's changes", async () => {
      const messageThreadId = await newThread();
      const first = await trigger(messageThreadId);
      const probe = { organizationId: org.organizationId, flowRunId: first.id };
      const sub = await subscribe(transport, org.key, { flowRunId: first.id });
      try {
        await untilListening(sub.inbox, bus, probe);
        const second = await trigger(messageThreadId); // same thread, another run: not heard
        await patch(second.id, { state: { ignored: true } });
        await patch(first.id, { status: 'cancelled' }); // heard; the promotion of `second` is not
        await remove(second.id);
        await remove(first.id);
        await sub.inbox.changesUpTo(2);
        await fence(sub.inbox, bus, probe);
        expect(sub.inbox.changes()).toMatchObject([
          { kind: 'updated', flowRunId: first.id, status: 'cancelled', flowRun: { id: first.id, status: 'cancelled' } },
          { kind: 'deleted', flowRunId: first.id, status: null, flowRun: null },
        ]);
        expect(sub.inbox.changes()).toHaveLength(2);
      } finally {
        await sub.close();
      }
    });

    it("another organization's subscriber hears nothing of these changes", async () => {
      const messageThreadId = await newThread();
      // A subscriber of the other organization asks for this organization's thread.
      const intruder = await subscribe(transport, other.key, { messageThreadId });
      const own = await subscribe(transport, org.key, { messageThreadId });
      const otherThread = await newThread(other);
      const otherOwn = await subscribe(transport, other.key, { messageThreadId: otherThread });
      try {
        await untilListening(intruder.inbox, bus, { organizationId: other.organizationId, messageThreadId });
        await untilListening(own.inbox, bus, { organizationId: org.organizationId, messageThreadId });
        await untilListening(otherOwn.inbox, bus, { organizationId: other.organizationId, messageThreadId: otherThread });

        const run = await trigger(messageThreadId);
        await patch(run.id, { status: 'finished' });
        await own.inbox.changesUpTo(2);

        // Afterwards, a change in the other organization's own thread reaches its own
        // subscriber; and a change on its own topic for the asked-for thread id reaches the
        // intruder. Both came after this organization's changes, so those were never sent.
        const theirs = await trigger(otherThread, other, otherFlowId);
        expect((await otherOwn.inbox.changesUpTo(1))[0]).toMatchObject({ kind: 'triggered', flowRunId: theirs.id });
        await fence(intruder.inbox, bus, { organizationId: other.organizationId, messageThreadId });
        expect(intruder.inbox.changes()).toEqual([]);
        expect(intruder.inbox.items.every((item) => !item.errors)).toBe(true);
        expect(otherOwn.inbox.changes().map((change) => change.flowRunId)).toEqual([theirs.id]);
      } finally {
        await Promise.all([intruder.close(), own.close(), otherOwn.close()]);
      }
    });

    it('both arguments, or neither, is an error and no data', async () => {
      const messageThreadId = await newThread();
      const run = await trigger(messageThreadId);
      for (const variables of [{ messageThreadId, flowRunId: run.id }, {}]) {
        const sub = await subscribe(transport, org.key, variables);
        try {
          await sub.inbox.errorOrEnd();
          const errors = [...sub.inbox.items.flatMap((item) => item.errors ?? []), ...(Array.isArray(sub.inbox.endError) ? sub.inbox.endError : [])];
          expect(errors.map((error) => error.message).join(' ')).toMatch(/exactly one of flowRunId and messageThreadId/);
          expect(sub.inbox.changes()).toEqual([]);
        } finally {
          await sub.close();
        }
      }
    });
  });

  it.each([
    ['no key', undefined, 4401],
    ['an unknown key', 'not-a-real-key', 4403],
  ])('WebSocket with %s (key %s): closed at connection_init with %i, no data', async (_label, key, code) => {
    const messageThreadId = await newThread();
    const client = wsClient(server.port, key);
    clients.push(client);
    const sub: LiveSubscription = subscribeWs(client, { messageThreadId });
    try {
      await within(5_000, 'the refusal', sub.inbox.errorOrEnd());
      expect(sub.inbox.changes()).toEqual([]);
      expect((sub.inbox.endError as { code?: number }).code).toBe(code);
      // Nothing leaks later either: a change on that thread still reaches no one here.
      await trigger(messageThreadId);
      expect(sub.inbox.changes()).toEqual([]);
    } finally {
      await sub.close();
    }
  });

  it('SSE with no key: an error, not a stream of data', async () => {
    const messageThreadId = await newThread();
    const sub = await subscribeSse((request) => app.fetch(request), undefined, { messageThreadId });
    try {
      await sub.inbox.errorOrEnd();
      expect(sub.inbox.changes()).toEqual([]);
      expect(JSON.stringify(sub.inbox.items)).toMatch(/UNAUTHENTICATED|api key/i);
    } finally {
      await sub.close();
    }
  });
});
