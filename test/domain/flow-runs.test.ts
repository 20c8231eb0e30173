// The flow-run rules of docs/API.md, run against the domain functions directly, on the
// embedded database and (with TEST_DATABASE_URL) on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InputPath } from '../../src/domain/errors.ts';
import { deleteFlowRun, patchFlowRun, triggerFlowRun } from '../../src/domain/flow-runs.ts';
import { TERMINAL_STATUSES, type FlowRunStatus } from '../../src/domain/flow-run-status.ts';
import { createFlow, deleteFlow, updateFlow } from '../../src/domain/flows.ts';
import { createMessageThread, deleteMessageThread, updateMessageThread } from '../../src/domain/message-threads.ts';
import { createAuthenticator } from '../../src/domain/organizations.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import type { Channel } from '../../src/domain/flow-run-input.ts';
import { createKey, createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { expectDomainError, newFlow, newThread, triggerRun as trigger, uniqueIdentifier } from '../support/fixtures.ts';
import { exactly, only } from '../support/items.ts';

const TEMPLATE_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
const template = (components: unknown = [{ type: 'body', parameters: [{ type: 'text', text: 'Ann' }] }]) => ({
  type: 'template',
  template: { id: TEMPLATE_ID, components },
});
const TERMINAL = [...TERMINAL_STATUSES];

/** Same, for a function that throws synchronously or returns a rejected promise. */
function attempt(work: () => Promise<unknown>): Promise<unknown> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}

describe.each(databaseTargets())('flow-run domain on $name', (target) => {
  let db: TestDatabase;
  let orgA: TestTenant;
  let orgB: TestTenant;
  let readOnlyA: Tenant;
  /** A thread with `count` runs triggered one after another (the first one running). */
  async function threadWithRuns<N extends number>(count: N, tenant: Tenant = orgA.tenant) {
    const flow = await newFlow(tenant);
    const thread = await newThread(tenant);
    const runs = [];
    for (let i = 0; i < count; i++) runs.push(await trigger(tenant, flow, thread, { state: { n: i } }));
    return { flow, thread, runs: exactly(runs, count, 'runs') };
  }

  const statusOf = async (id: string) => (await db.prisma.flowRun.findUnique({ where: { id } }))?.status;
  const runsOfThread = (messageThreadId: string) => db.prisma.flowRun.findMany({ where: { messageThreadId }, orderBy: { sequence: 'asc' } });

  beforeAll(async () => {
    db = await openTestDatabase(target, { poolSize: 10 });
    orgA = await createTestTenant(db, 'write', 'Org A');
    orgB = await createTestTenant(db, 'write', 'Org B');
    readOnlyA = await createAuthenticator(db).authenticate(await createKey(db, orgA.organizationId, 'read'));
  });
  afterAll(async () => {
    await db?.close();
  });

  describe('trigger', () => {
    it('starts running on an idle thread and queues behind a running run', async () => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      const first = await trigger(orgA.tenant, flow, thread);
      expect(first.status).toBe('running');
      expect(first.cost).toBe(0);
      expect(first.organizationId).toBe(orgA.organizationId);
      const second = await trigger(orgA.tenant, flow, thread);
      const third = await trigger(orgA.tenant, flow, thread);
      expect(second.status).toBe('queued');
      expect(third.status).toBe('queued');
      expect(second.sequence).toBeGreaterThan(first.sequence);
      expect(third.sequence).toBeGreaterThan(second.sequence);

      // Another thread has its own queue.
      const otherThread = await newThread(orgA.tenant);
      expect((await trigger(orgA.tenant, flow, otherThread)).status).toBe('running');

      // Once nothing runs, the next trigger runs at once again.
      const idle = await newThread(orgA.tenant);
      const ended = await trigger(orgA.tenant, flow, idle);
      await patchFlowRun(orgA.tenant, ended.id, { status: 'finished' });
      expect((await trigger(orgA.tenant, flow, idle)).status).toBe('running');
    });

    it('leaves exactly one running run when 50 triggers race on one thread', async () => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => trigger(orgA.tenant, flow, thread, { state: { n: i } })));
      expect(results.filter((run) => run.status === 'running')).toHaveLength(1);
      expect(results.filter((run) => run.status === 'queued')).toHaveLength(49);

      const stored = await runsOfThread(thread);
      expect(stored).toHaveLength(50);
      expect(stored.filter((run) => run.status === 'running')).toHaveLength(1);
      expect(stored.filter((run) => run.status === 'queued')).toHaveLength(49);
      // The run that got in first is the one running.
      expect(stored[0]?.status).toBe('running');
      expect(new Set(stored.map((run) => run.sequence)).size).toBe(50);
    });

    it('promotes queued runs in FIFO order until all 50 have had their turn', async () => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      const triggered = await Promise.all(Array.from({ length: 50 }, (_, i) => trigger(orgA.tenant, flow, thread, { state: { n: i } })));
      const turns: string[] = [];
      for (;;) {
        const runs = await runsOfThread(thread);
        const running = runs.filter((run) => run.status === 'running');
        const queued = runs.filter((run) => run.status === 'queued');
        if (running.length === 0) {
          expect(queued).toHaveLength(0);
          break;
        }
        expect(running).toHaveLength(1);
        const current = only(running, 'running run');
        turns.push(current.id);
        const lowestQueued = queued.reduce<(typeof queued)[number] | undefined>(
          (lowest, run) => (lowest === undefined || run.sequence < lowest.sequence ? run : lowest),
          undefined,
        );
        const ended = await patchFlowRun(orgA.tenant, current.id, { status: 'finished' });
        expect(ended.status).toBe('finished');
        const nowRunning = (await runsOfThread(thread)).filter((run) => run.status === 'running');
        if (lowestQueued) {
          expect(nowRunning.map((run) => run.id)).toEqual([lowestQueued.id]);
        } else {
          expect(nowRunning).toHaveLength(0);
        }
      }
      expect(turns).toHaveLength(50);
      expect(new Set(turns)).toEqual(new Set(triggered.map((run) => run.id)));
      const bySequence = [...triggered].sort((a, b) => (a.sequence < b.sequence ? -1 : 1)).map((run) => run.id);
      expect(turns).toEqual(bySequence);
      const final = await runsOfThread(thread);
      expect(final.every((run) => run.status === 'finished')).toBe(true);
    });

    it('gives runs triggered one after another their turn in trigger order', async () => {
      const { runs } = await threadWithRuns(5);
      const turns = [runs[0].id];
      let current = runs[0].id;
      for (let i = 1; i < runs.length; i++) {
        await patchFlowRun(orgA.tenant, current, { status: i % 2 ? 'cancelled' : 'exception' });
        const running = await db.prisma.flowRun.findFirst({ where: { messageThreadId: runs[0].messageThreadId, status: 'running' } });
        current = running!.id;
        turns.push(current);
      }
      expect(turns).toEqual(runs.map((run) => run.id));
    });

    it('requires flowId and messageThreadId as UUIDs', async () => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      await expectDomainError(
        attempt(() => trigger(orgA.tenant, 'not-a-uuid', thread)),
        'VALIDATION_FAILED',
        ['flowId'],
      );
      await expectDomainError(
        attempt(() => trigger(orgA.tenant, flow, 'nope')),
        'VALIDATION_FAILED',
        ['messageThreadId'],
      );
      await expectDomainError(
        attempt(() => triggerFlowRun(orgA.tenant, { flowId: flow, state: {}, initialMessage: {} } as never)),
        'VALIDATION_FAILED',
        ['messageThreadId'],
      );
      expect(await runsOfThread(thread)).toHaveLength(0);
    });

    it('refuses a flow or thread that does not exist or belongs to another organization', async () => {
      const flowA = await newFlow(orgA.tenant);
      const threadA = await newThread(orgA.tenant);
      const flowB = await newFlow(orgB.tenant);
      const threadB = await newThread(orgB.tenant);
      await expectDomainError(trigger(orgA.tenant, flowB, threadA), 'REFERENCED_RESOURCE_NOT_FOUND', ['flowId']);
      await expectDomainError(trigger(orgA.tenant, flowA, threadB), 'REFERENCED_RESOURCE_NOT_FOUND', ['messageThreadId']);
      await expectDomainError(trigger(orgA.tenant, randomUUID(), threadA), 'REFERENCED_RESOURCE_NOT_FOUND', ['flowId']);
      await expectDomainError(trigger(orgA.tenant, flowA, randomUUID()), 'REFERENCED_RESOURCE_NOT_FOUND', ['messageThreadId']);
      expect(await runsOfThread(threadA)).toHaveLength(0);
      expect(await runsOfThread(threadB)).toHaveLength(0);
      // The owner can use them.
      expect((await trigger(orgB.tenant, flowB, threadB)).status).toBe('running');
    });
  });

  describe('status machine', () => {
    it.each(TERMINAL)('moves a running run to %s and promotes the next', async (status) => {
      const { runs } = await threadWithRuns(2);
      const ended = await patchFlowRun(orgA.tenant, runs[0].id, { status });
      expect(ended.status).toBe(status);
      expect(await statusOf(runs[0].id)).toBe(status);
      expect(await statusOf(runs[1].id)).toBe('running');
    });

    it.each(TERMINAL)('moves a queued run to %s without touching the running one', async (status) => {
      const { runs } = await threadWithRuns(3);
      const ended = await patchFlowRun(orgA.tenant, runs[1].id, { status });
      expect(ended.status).toBe(status);
      expect(await statusOf(runs[0].id)).toBe('running');
      expect(await statusOf(runs[2].id)).toBe('queued');
      // The ended run is skipped when the running one ends.
      await patchFlowRun(orgA.tenant, runs[0].id, { status: 'finished' });
      expect(await statusOf(runs[1].id)).toBe(status);
      expect(await statusOf(runs[2].id)).toBe('running');
    });

    it('refuses to move an ended run to another terminal status', async () => {
      const { runs } = await threadWithRuns(1);
      await patchFlowRun(orgA.tenant, runs[0].id, { status: 'finished' });
      for (const status of TERMINAL.filter((s) => s !== 'finished')) {
        await expectDomainError(patchFlowRun(orgA.tenant, runs[0].id, { status }), 'RUN_ALREADY_ENDED', ['status']);
      }
      expect(await statusOf(runs[0].id)).toBe('finished');
    });

    it('treats patching the status a run already has as a no-op', async () => {
      const { runs } = await threadWithRuns(2);
      const ended = await patchFlowRun(orgA.tenant, runs[0].id, { status: 'timeout' });
      const again = await patchFlowRun(orgA.tenant, runs[0].id, { status: 'timeout' });
      expect(again).toEqual(ended);
      expect(await db.prisma.flowRun.findUnique({ where: { id: runs[0].id } })).toEqual(ended);
      // And it does not promote anything further.
      expect(await statusOf(runs[1].id)).toBe('running');
      // An empty patch is a no-op too.
      const running = await db.prisma.flowRun.findUniqueOrThrow({ where: { id: runs[1].id } });
      expect(await patchFlowRun(orgA.tenant, runs[1].id, {})).toEqual(running);
    });

    it.each(['queued', 'running'] as FlowRunStatus[])('refuses to set %s by a patch', async (status) => {
      const { runs } = await threadWithRuns(3);
      await patchFlowRun(orgA.tenant, runs[2].id, { status: 'cancelled' });
      for (const run of runs) {
        await expectDomainError(patchFlowRun(orgA.tenant, run.id, { status }), 'STATUS_NOT_SETTABLE', ['status']);
      }
      expect((await runsOfThread(runs[0].messageThreadId)).map((run) => run.status)).toEqual(['running', 'queued', 'cancelled']);
    });

    it('answers NOT_FOUND for a run that does not exist', async () => {
      await expectDomainError(patchFlowRun(orgA.tenant, randomUUID(), { status: 'finished' }), 'NOT_FOUND');
      await expectDomainError(deleteFlowRun(orgA.tenant, randomUUID()), 'NOT_FOUND');
    });
  });

  describe('state', () => {
    it('cannot be replaced while the run is running', async () => {
      const { runs } = await threadWithRuns(1);
      await expectDomainError(patchFlowRun(orgA.tenant, runs[0].id, { state: { erased: true } }), 'STATE_LOCKED_WHILE_RUNNING', ['state']);
      const stored = await db.prisma.flowRun.findUniqueOrThrow({ where: { id: runs[0].id } });
      expect(stored.state).toEqual({ n: 0 });
      expect(stored.status).toBe('running');
    });

    it('may be replaced in the same patch that ends the run', async () => {
      const { runs } = await threadWithRuns(2);
      const ended = await patchFlowRun(orgA.tenant, runs[0].id, { status: 'finished', state: { done: true } });
      expect(ended.status).toBe('finished');
      expect(ended.state).toEqual({ done: true });
      expect(await statusOf(runs[1].id)).toBe('running');
    });

    it('is replaced whole on a queued or ended run', async () => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      const running = await trigger(orgA.tenant, flow, thread, { state: { name: 'Ann', phone: '31600000000' } });
      const queued = await trigger(orgA.tenant, flow, thread, { state: { name: 'Bob', phone: '31600000001' } });

      const patchedQueued = await patchFlowRun(orgA.tenant, queued.id, { state: { step: 2 } });
      expect(patchedQueued.status).toBe('queued');
      expect(patchedQueued.state).toEqual({ step: 2 });

      await patchFlowRun(orgA.tenant, running.id, { status: 'finished' });
      const erased = await patchFlowRun(orgA.tenant, running.id, { state: {} });
      expect(erased.state).toEqual({});
      expect(erased.status).toBe('finished');
      expect((await db.prisma.flowRun.findUniqueOrThrow({ where: { id: running.id } })).state).toEqual({});
    });

    it('accepts a JSON string holding an object and stores the object', async () => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      const run = await trigger(orgA.tenant, flow, thread, { state: '{"name":"Ann","scheduleId":"s-1"}' });
      expect(run.state).toEqual({ name: 'Ann', scheduleId: 's-1' });
      const stored = await db.prisma.flowRun.findUniqueOrThrow({ where: { id: run.id } });
      expect(stored.state).toEqual({ name: 'Ann', scheduleId: 's-1' });
      expect(typeof stored.state).toBe('object');

      await patchFlowRun(orgA.tenant, run.id, { status: 'finished' });
      const patched = await patchFlowRun(orgA.tenant, run.id, { state: '{"erased":true}' });
      expect(patched.state).toEqual({ erased: true });
    });

    it.each([
      ['an array', [1, 2]],
      ['null', null],
      ['a number', 5],
      ['a string that is not JSON', 'not json'],
      ['a JSON string holding an array', '[1,2]'],
      ['a JSON string holding a string', '"x"'],
    ])('refuses %s', async (_label, state) => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      await expectDomainError(
        attempt(() => trigger(orgA.tenant, flow, thread, { state })),
        'VALIDATION_FAILED',
        ['state'],
      );
      expect(await runsOfThread(thread)).toHaveLength(0);
      const run = await trigger(orgA.tenant, flow, thread);
      await patchFlowRun(orgA.tenant, run.id, { status: 'finished' });
      await expectDomainError(
        attempt(() => patchFlowRun(orgA.tenant, run.id, { state })),
        'VALIDATION_FAILED',
        ['state'],
      );
    });

    it.each([['s-1'], [['s-1']], [['s-1', 's-2']]])('accepts scheduleId %j', async (scheduleId) => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      const run = await trigger(orgA.tenant, flow, thread, { state: { scheduleId } });
      expect(run.state).toEqual({ scheduleId });
    });

    it.each([
      ['an empty string', '', ['state', 'scheduleId']],
      ['an empty list', [], ['state', 'scheduleId']],
      ['a list with an empty string', ['s-1', ''], ['state', 'scheduleId', 1]],
      ['a number', 7, ['state', 'scheduleId']],
      ['a list of numbers', [1], ['state', 'scheduleId']],
    ])('refuses scheduleId as %s', async (_label, scheduleId, path) => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant);
      await expectDomainError(
        attempt(() => trigger(orgA.tenant, flow, thread, { state: { scheduleId } })),
        'VALIDATION_FAILED',
        path as InputPath,
      );
      const run = await trigger(orgA.tenant, flow, thread);
      await patchFlowRun(orgA.tenant, run.id, { status: 'finished' });
      await expectDomainError(
        attempt(() => patchFlowRun(orgA.tenant, run.id, { state: { scheduleId } })),
        'VALIDATION_FAILED',
        path as InputPath,
      );
    });
  });

  describe('initialMessage', () => {
    it.each<[Channel, unknown]>([
      ['whatsapp', {}],
      ['whatsapp', template()],
      ['whatsapp', template([])],
      ['sms', { type: 'text', text: 'Hello' }],
      ['sms', template()],
      ['email', { type: 'text', text: 'Hello' }],
      ['web', { type: 'text', text: 'Hello' }],
      ['web', {}],
    ])('accepts on %s: %j', async (channel, initialMessage) => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant, 'visitor', channel);
      const run = await trigger(orgA.tenant, flow, thread, { initialMessage });
      expect(run.initialMessage).toEqual(initialMessage);
      expect((await db.prisma.flowRun.findUniqueOrThrow({ where: { id: run.id } })).initialMessage).toEqual(initialMessage);
    });

    it.each<[string, Channel, unknown, InputPath]>([
      ['text on whatsapp', 'whatsapp', { type: 'text', text: 'Hello' }, ['initialMessage', 'type']],
      ['an unknown type', 'sms', { type: 'carrier-pigeon' }, ['initialMessage', 'type']],
      ['no type', 'web', { text: 'Hello' }, ['initialMessage', 'type']],
      ['a template without template', 'whatsapp', { type: 'template' }, ['initialMessage', 'template']],
      [
        'a template id that is not a UUID',
        'whatsapp',
        { type: 'template', template: { id: 'welcome', components: [] } },
        ['initialMessage', 'template', 'id'],
      ],
      [
        'a template without components',
        'whatsapp',
        { type: 'template', template: { id: TEMPLATE_ID } },
        ['initialMessage', 'template', 'components'],
      ],
      ['components that are not a list', 'whatsapp', template('body'), ['initialMessage', 'template', 'components']],
      ['a component that is not an object', 'whatsapp', template([1]), ['initialMessage', 'template', 'components', 0]],
      ['an empty text', 'email', { type: 'text', text: '' }, ['initialMessage', 'text']],
      ['a string', 'web', 'Hello', ['initialMessage']],
      ['null', 'web', null, ['initialMessage']],
      ['an array', 'web', [], ['initialMessage']],
      ['nothing at all', 'web', undefined, ['initialMessage']],
    ])('refuses %s', async (_label, channel, initialMessage, path) => {
      const flow = await newFlow(orgA.tenant);
      const thread = await newThread(orgA.tenant, 'visitor', channel);
      await expectDomainError(
        triggerFlowRun(orgA.tenant, { flowId: flow, messageThreadId: thread, state: {}, initialMessage }),
        'VALIDATION_FAILED',
        path,
      );
      expect(await runsOfThread(thread)).toHaveLength(0);
    });

    it('cannot be changed by a patch', async () => {
      const { runs } = await threadWithRuns(2);
      for (const run of runs) {
        for (const initialMessage of [{}, { type: 'text', text: 'Hi' }]) {
          await expectDomainError(
            attempt(() => patchFlowRun(orgA.tenant, run.id, { initialMessage })),
            'INITIAL_MESSAGE_IMMUTABLE',
            ['initialMessage'],
          );
        }
      }
      // Not even together with an otherwise valid change.
      await expectDomainError(
        attempt(() => patchFlowRun(orgA.tenant, runs[0].id, { status: 'finished', initialMessage: {} })),
        'INITIAL_MESSAGE_IMMUTABLE',
      );
      expect(await statusOf(runs[0].id)).toBe('running');
    });
  });

  describe('delete', () => {
    it('promotes the next queued run when the running run is deleted', async () => {
      const { runs } = await threadWithRuns(3);
      await deleteFlowRun(orgA.tenant, runs[0].id);
      expect(await db.prisma.flowRun.findUnique({ where: { id: runs[0].id } })).toBeNull();
      expect(await statusOf(runs[1].id)).toBe('running');
      expect(await statusOf(runs[2].id)).toBe('queued');
    });

    it('leaves the running run alone when a queued run is deleted', async () => {
      const { runs } = await threadWithRuns(3);
      await deleteFlowRun(orgA.tenant, runs[1].id);
      expect(await db.prisma.flowRun.findUnique({ where: { id: runs[1].id } })).toBeNull();
      expect(await statusOf(runs[0].id)).toBe('running');
      expect(await statusOf(runs[2].id)).toBe('queued');
      await expectDomainError(deleteFlowRun(orgA.tenant, runs[1].id), 'NOT_FOUND');
    });

    it('refuses to delete a flow or a thread that still has runs', async () => {
      const { flow, thread, runs } = await threadWithRuns(2);
      await expectDomainError(deleteFlow(orgA.tenant, flow), 'HAS_FLOW_RUNS');
      await expectDomainError(deleteMessageThread(orgA.tenant, thread), 'HAS_FLOW_RUNS');
      // Ended runs count too.
      await patchFlowRun(orgA.tenant, runs[0].id, { status: 'finished' });
      await patchFlowRun(orgA.tenant, runs[1].id, { status: 'finished' });
      await expectDomainError(deleteFlow(orgA.tenant, flow), 'HAS_FLOW_RUNS');
      expect(await db.prisma.flow.findUnique({ where: { id: flow } })).not.toBeNull();
      expect(await db.prisma.messageThread.findUnique({ where: { id: thread } })).not.toBeNull();

      for (const run of runs) await deleteFlowRun(orgA.tenant, run.id);
      await deleteFlow(orgA.tenant, flow);
      await deleteMessageThread(orgA.tenant, thread);
      expect(await db.prisma.flow.findUnique({ where: { id: flow } })).toBeNull();
      expect(await db.prisma.messageThread.findUnique({ where: { id: thread } })).toBeNull();
      await expectDomainError(deleteFlow(orgA.tenant, flow), 'NOT_FOUND');
      await expectDomainError(deleteMessageThread(orgA.tenant, thread), 'NOT_FOUND');
    });
  });

  describe('access', () => {
    it('refuses every write with a read-only key and changes nothing', async () => {
      const { flow, thread, runs } = await threadWithRuns(2);
      const before = await runsOfThread(thread);
      await expectDomainError(trigger(readOnlyA, flow, thread), 'READ_ONLY_KEY');
      await expectDomainError(patchFlowRun(readOnlyA, runs[0].id, { status: 'finished' }), 'READ_ONLY_KEY');
      await expectDomainError(deleteFlowRun(readOnlyA, runs[0].id), 'READ_ONLY_KEY');
      await expectDomainError(createFlow(readOnlyA, { name: 'x' }), 'READ_ONLY_KEY');
      await expectDomainError(updateFlow(readOnlyA, flow, { name: 'x' }), 'READ_ONLY_KEY');
      await expectDomainError(deleteFlow(readOnlyA, flow), 'READ_ONLY_KEY');
      await expectDomainError(createMessageThread(readOnlyA, { channel: 'web', identifier: 'ro' }), 'READ_ONLY_KEY');
      await expectDomainError(updateMessageThread(readOnlyA, thread, { identifier: 'ro' }), 'READ_ONLY_KEY');
      await expectDomainError(deleteMessageThread(readOnlyA, thread), 'READ_ONLY_KEY');
      expect(await runsOfThread(thread)).toEqual(before);
      expect((await db.prisma.flow.findUniqueOrThrow({ where: { id: flow } })).name).toBe('Test flow');
      // Reading is allowed.
      expect(await readOnlyA.db.flowRun.count({ where: { messageThreadId: thread } })).toBe(2);
    });

    it("answers NOT_FOUND for another organization's run and leaves it alone", async () => {
      const { runs } = await threadWithRuns(2, orgB.tenant);
      await expectDomainError(patchFlowRun(orgA.tenant, runs[0].id, { status: 'cancelled' }), 'NOT_FOUND');
      await expectDomainError(patchFlowRun(orgA.tenant, runs[1].id, { state: { stolen: true } }), 'NOT_FOUND');
      await expectDomainError(deleteFlowRun(orgA.tenant, runs[0].id), 'NOT_FOUND');
      await expectDomainError(deleteFlowRun(orgA.tenant, runs[1].id), 'NOT_FOUND');
      const stored = await runsOfThread(runs[0].messageThreadId);
      expect(stored.map((run) => [run.id, run.status, run.state])).toEqual([
        [runs[0].id, 'running', { n: 0 }],
        [runs[1].id, 'queued', { n: 1 }],
      ]);
    });

    it("answers NOT_FOUND for another organization's flow or thread", async () => {
      const flowB = await newFlow(orgB.tenant, 'B flow');
      const threadB = await newThread(orgB.tenant);
      await expectDomainError(updateFlow(orgA.tenant, flowB, { name: 'mine' }), 'NOT_FOUND');
      await expectDomainError(deleteFlow(orgA.tenant, flowB), 'NOT_FOUND');
      await expectDomainError(updateMessageThread(orgA.tenant, threadB, { identifier: 'mine' }), 'NOT_FOUND');
      await expectDomainError(deleteMessageThread(orgA.tenant, threadB), 'NOT_FOUND');
      expect((await db.prisma.flow.findUniqueOrThrow({ where: { id: flowB } })).name).toBe('B flow');
      expect(await db.prisma.messageThread.findUnique({ where: { id: threadB } })).not.toBeNull();
    });

    it('scopes a tenant client without any where to its own organization', async () => {
      // Make sure both organizations own rows of every kind.
      await threadWithRuns(2, orgA.tenant);
      await threadWithRuns(2, orgB.tenant);
      for (const { tenant, organizationId } of [orgA, orgB]) {
        const models = ['flow', 'messageThread', 'flowRun', 'apiKey'] as const;
        for (const model of models) {
          const delegate = tenant.db[model] as unknown as {
            findMany(): Promise<{ organizationId: string }[]>;
            count(): Promise<number>;
          };
          const unscoped = db.prisma[model] as unknown as {
            count(args?: { where?: object }): Promise<number>;
          };
          const rows = await delegate.findMany();
          const own = await unscoped.count({ where: { organizationId } });
          const all = await unscoped.count();
          expect(rows.length, model).toBe(own);
          expect(
            rows.every((row) => row.organizationId === organizationId),
            model,
          ).toBe(true);
          expect(await delegate.count(), model).toBe(own);
          expect(all, `${model}: the other organization has rows too`).toBeGreaterThan(own);
        }
        const organizations = await tenant.db.organization.findMany();
        expect(organizations.map((organization) => organization.id)).toEqual([organizationId]);
        expect(await tenant.db.organization.count()).toBe(1);
      }
    });
  });

  describe('flows', () => {
    it('creates a flow with defaults', async () => {
      const flow = await createFlow(orgA.tenant, { name: '  Intake  ' });
      expect(flow).toMatchObject({
        name: 'Intake',
        sessionTimeout: 1440,
        reminderInterval: null,
        reminderMessage: null,
        publishedAt: null,
        unpublishedChanges: false,
        flowGenerationId: null,
        organizationId: orgA.organizationId,
      });
    });

    it('accepts names of 1 and 200 characters and sessionTimeout 1', async () => {
      expect((await createFlow(orgA.tenant, { name: 'x' })).name).toBe('x');
      expect((await createFlow(orgA.tenant, { name: 'y'.repeat(200) })).name).toHaveLength(200);
      expect((await createFlow(orgA.tenant, { name: 'short', sessionTimeout: 1 })).sessionTimeout).toBe(1);
      expect((await createFlow(orgA.tenant, { name: 'r', reminderInterval: 0 })).reminderInterval).toBe(0);
    });

    it.each<[string, Record<string, unknown>, InputPath]>([
      ['an empty name', { name: '' }, ['name']],
      ['a blank name', { name: '   ' }, ['name']],
      ['a name of 201 characters', { name: 'z'.repeat(201) }, ['name']],
      ['a missing name', {}, ['name']],
      ['sessionTimeout 0', { name: 'f', sessionTimeout: 0 }, ['sessionTimeout']],
      ['a negative sessionTimeout', { name: 'f', sessionTimeout: -5 }, ['sessionTimeout']],
      ['a fractional sessionTimeout', { name: 'f', sessionTimeout: 1.5 }, ['sessionTimeout']],
      ['a negative reminderInterval', { name: 'f', reminderInterval: -1 }, ['reminderInterval']],
      ['a flowGenerationId that is not a UUID', { name: 'f', flowGenerationId: 'gen-1' }, ['flowGenerationId']],
    ])('refuses %s', async (_label, input, path) => {
      const before = await db.prisma.flow.count();
      await expectDomainError(
        attempt(() => createFlow(orgA.tenant, input as never)),
        'VALIDATION_FAILED',
        path,
      );
      expect(await db.prisma.flow.count()).toBe(before);
    });

    it('validates updates the same way', async () => {
      const flow = await newFlow(orgA.tenant);
      await expectDomainError(
        attempt(() => updateFlow(orgA.tenant, flow, { sessionTimeout: 0 })),
        'VALIDATION_FAILED',
        ['sessionTimeout'],
      );
      await expectDomainError(
        attempt(() => updateFlow(orgA.tenant, flow, { name: '' })),
        'VALIDATION_FAILED',
        ['name'],
      );
      const updated = await updateFlow(orgA.tenant, flow, { sessionTimeout: 30, reminderMessage: 'Still there?' });
      expect(updated).toMatchObject({ name: 'Test flow', sessionTimeout: 30, reminderMessage: 'Still there?' });
      await expectDomainError(updateFlow(orgA.tenant, randomUUID(), { name: 'ghost' }), 'NOT_FOUND');
    });
  });

  describe('message threads', () => {
    it.each<[Channel, string]>([
      ['whatsapp', '31652071191'],
      ['sms', '14155550123'],
      ['email', 'ann@example.com'],
      ['web', 'any visitor id'],
      ['web', 'w'.repeat(200)],
    ])('accepts a %s identifier %s', async (channel, identifier) => {
      const thread = await createMessageThread(orgA.tenant, { channel, identifier });
      expect(thread).toMatchObject({ channel, identifier, candidateId: null, organizationId: orgA.organizationId });
    });

    it.each<[Channel | string, string, InputPath]>([
      ['whatsapp', '+31652071192', ['identifier']],
      ['whatsapp', '0652071192', ['identifier']],
      ['sms', 'not-a-number', ['identifier']],
      ['whatsapp', 'ann@example.com', ['identifier']],
      ['email', 'ann', ['identifier']],
      ['email', '31652071193', ['identifier']],
      ['web', '', ['identifier']],
      ['web', 'w'.repeat(201), ['identifier']],
      ['fax', '31652071194', ['channel']],
    ])('refuses channel %s with identifier %s', async (channel, identifier, path) => {
      await expectDomainError(
        attempt(() => createMessageThread(orgA.tenant, { channel: channel as Channel, identifier })),
        'VALIDATION_FAILED',
        path,
      );
    });

    it('refuses a candidateId that is not a UUID', async () => {
      await expectDomainError(
        attempt(() => createMessageThread(orgA.tenant, { channel: 'web', identifier: 'cand', candidateId: 'c-1' })),
        'VALIDATION_FAILED',
        ['candidateId'],
      );
      const candidateId = randomUUID();
      expect((await createMessageThread(orgA.tenant, { channel: 'web', identifier: 'cand', candidateId })).candidateId).toBe(candidateId);
    });

    it('refuses a second thread with the same channel and identifier in one organization', async () => {
      const identifier = uniqueIdentifier('whatsapp');
      const first = await createMessageThread(orgA.tenant, { channel: 'whatsapp', identifier });
      await expectDomainError(createMessageThread(orgA.tenant, { channel: 'whatsapp', identifier }), 'THREAD_ALREADY_EXISTS', ['identifier']);
      // Another channel, or another organization, is another thread.
      await createMessageThread(orgA.tenant, { channel: 'sms', identifier });
      await createMessageThread(orgB.tenant, { channel: 'whatsapp', identifier });
      expect(await db.prisma.messageThread.count({ where: { identifier } })).toBe(3);

      // Updating a thread into an existing (channel, identifier) is refused too.
      const second = await createMessageThread(orgA.tenant, { channel: 'whatsapp', identifier: uniqueIdentifier('whatsapp') });
      await expectDomainError(updateMessageThread(orgA.tenant, second.id, { identifier }), 'THREAD_ALREADY_EXISTS');
      expect((await db.prisma.messageThread.findUniqueOrThrow({ where: { id: second.id } })).identifier).not.toBe(identifier);
      expect(first.identifier).toBe(identifier);
    });

    it('checks an updated identifier against the channel', async () => {
      const thread = await newThread(orgA.tenant, 'visitor', 'whatsapp');
      await expectDomainError(
        attempt(() => updateMessageThread(orgA.tenant, thread, { identifier: 'abc' })),
        'VALIDATION_FAILED',
        ['identifier'],
      );
      await expectDomainError(
        attempt(() => updateMessageThread(orgA.tenant, thread, { channel: 'email' })),
        'VALIDATION_FAILED',
        ['identifier'],
      );
      const moved = await updateMessageThread(orgA.tenant, thread, { channel: 'email', identifier: uniqueIdentifier('email', 'moved') });
      expect(moved.channel).toBe('email');
    });
  });
});
