// Session timeouts with a clock the test moves: reads never show an expired run as
// running, the sweeper times runs out and promotes the next, and two sweepers racing
// over the same rows neither lose a run nor promote one twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRunChange } from '../../src/domain/flow-run-changes.ts';
import { patchFlowRun } from '../../src/domain/flow-runs.ts';
import { createFlow, updateFlow } from '../../src/domain/flows.ts';
import { sweepExpiredRuns } from '../../src/domain/session-timeouts.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { createApp } from '../../src/http/app.ts';
import { MINUTE, TestClock } from '../support/clock.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectDomainError, newThread as threadOf, tenantWith, triggerRun } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';

describe.each(databaseTargets())('session timeouts on $name', (target) => {
  let db: TestDatabase;
  let clock: TestClock;
  let published: FlowRunChange[];
  let tenant: Tenant;
  let key: string;
  let flowId: string;

  const services = () => ({ clock, changes: { publish: (changes: readonly FlowRunChange[]) => published.push(...changes) } });
  const newThread = () => threadOf(tenant, 'timeout');
  const trigger = (messageThreadId: string) => triggerRun(tenant, flowId, messageThreadId);
  const statusOf = async (id: string) => (await db.prisma.flowRun.findUniqueOrThrow({ where: { id } })).status;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    clock = new TestClock();
    published = [];
    ({ tenant, key } = await tenantWith(db, services()));
    flowId = (await createFlow(tenant, { name: 'Quick', sessionTimeout: 60 })).id;
  });
  afterAll(() => db.close());

  it('reads an expired run as timeout before any sweep, over GraphQL', async () => {
    const thread = await newThread();
    const run = await trigger(thread);
    const app = createApp({ db, services: services() });
    const query = `query($thread: UUID!, $status: [FlowRunStatus!]) {
      flowRuns(filter: { messageThreadId: $thread, status: $status }) { totalCount edges { node { id status } } }
    }`;
    const read = (status?: string[]) =>
      sendGraphQL<{ flowRuns: { totalCount: number; edges: { node: { status: string } }[] } }, unknown>(app, key, query, {
        thread,
        status,
      });

    clock.advance(59 * MINUTE);
    expect((await read()).data!.flowRuns.edges[0]?.node.status).toBe('running');
    clock.advance(2 * MINUTE);
    expect((await read()).data!.flowRuns.edges[0]?.node.status).toBe('timeout');
    expect((await read(['running'])).data!.flowRuns.totalCount).toBe(0);
    expect((await read(['timeout'])).data!.flowRuns.totalCount).toBe(1);
    // Not yet swept: the database row still says running.
    expect(await statusOf(run.id)).toBe('running');
  });

  it('sweeps: times out, promotes the next queued run with its own expiry, and announces both', async () => {
    const thread = await newThread();
    const first = await trigger(thread);
    const second = await trigger(thread);
    clock.advance(61 * MINUTE);
    published.length = 0;
    const result = await sweepExpiredRuns(db.prisma, { ...services(), batchSize: 1000 });
    expect(result.timedOut).toBeGreaterThanOrEqual(1);
    expect(await statusOf(first.id)).toBe('timeout');
    expect(await statusOf(second.id)).toBe('running');
    const promoted = await db.prisma.flowRun.findUniqueOrThrow({ where: { id: second.id } });
    expect(promoted.expiresAt!.getTime()).toBe(clock.now().getTime() + 60 * MINUTE);
    expect(published).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'timedOut', flowRunId: first.id, status: 'timeout' }),
        expect.objectContaining({ kind: 'promoted', flowRunId: second.id, status: 'running' }),
      ]),
    );
    // A second pass finds nothing more on this thread.
    published.length = 0;
    await sweepExpiredRuns(db.prisma, services());
    expect(published.filter((change) => change.messageThreadId === thread)).toEqual([]);
  });

  it('times out an expired run when a trigger or a patch meets it before the sweeper', async () => {
    const thread = await newThread();
    const first = await trigger(thread);
    const second = await trigger(thread);
    clock.advance(61 * MINUTE);
    const third = await trigger(thread);
    expect(await statusOf(first.id)).toBe('timeout');
    expect(await statusOf(second.id)).toBe('running');
    expect(third.status).toBe('queued');

    clock.advance(61 * MINUTE);
    // The run had already timed out when the patch came: ending it otherwise is refused
    // (and the refused patch's transaction leaves the timing out to the sweeper).
    await expectDomainError(patchFlowRun(tenant, second.id, { status: 'finished' }), 'RUN_ALREADY_ENDED');
    await sweepExpiredRuns(db.prisma, services());
    expect(await statusOf(second.id)).toBe('timeout');
    expect(await statusOf(third.id)).toBe('running');
    // Asking for the status it already has is a no-op that succeeds.
    expect((await patchFlowRun(tenant, second.id, { status: 'timeout' })).status).toBe('timeout');
  });

  it('moves the expiry of running runs when the flow timeout changes', async () => {
    const thread = await newThread();
    const run = await trigger(thread);
    clock.advance(5 * MINUTE);
    await updateFlow(tenant, flowId, { sessionTimeout: 120 });
    // The runs whose expiry moved changed at the clock's time, as every other write does.
    expect((await db.prisma.flowRun.findUniqueOrThrow({ where: { id: run.id } })).updatedAt).toEqual(clock.now());
    clock.advance(85 * MINUTE);
    await sweepExpiredRuns(db.prisma, services());
    expect(await statusOf(run.id)).toBe('running');
    clock.advance(31 * MINUTE);
    await sweepExpiredRuns(db.prisma, services());
    expect(await statusOf(run.id)).toBe('timeout');
    await updateFlow(tenant, flowId, { sessionTimeout: 60 });
  });

  it('leaves a run that has already timed out for its readers timed out when the flow timeout grows', async () => {
    const thread = await newThread();
    const expired = await trigger(thread);
    clock.advance(61 * MINUTE);
    // No sweep yet: stored as running, read as timeout. Lengthening the flow's timeout
    // must not bring it back to life.
    await updateFlow(tenant, flowId, { sessionTimeout: 240 });
    const stored = await db.prisma.flowRun.findUniqueOrThrow({ where: { id: expired.id } });
    expect(stored.expiresAt!.getTime()).toBeLessThanOrEqual(clock.now().getTime());
    await sweepExpiredRuns(db.prisma, services());
    expect(await statusOf(expired.id)).toBe('timeout');
    await updateFlow(tenant, flowId, { sessionTimeout: 60 });
  });

  it('two sweepers racing over the same expired runs time out each once and promote each next once', async () => {
    const threads = await Promise.all(Array.from({ length: 20 }, () => newThread()));
    const firsts = [];
    for (const thread of threads) {
      firsts.push(await trigger(thread));
      await trigger(thread);
      await trigger(thread);
    }
    clock.advance(61 * MINUTE);
    published.length = 0;
    const [a, b] = await Promise.all([
      sweepExpiredRuns(db.prisma, { ...services(), batchSize: 1000 }),
      sweepExpiredRuns(db.prisma, { ...services(), batchSize: 1000 }),
    ]);
    // A sweeper may skip a thread the other holds; a later pass gets what both skipped.
    await sweepExpiredRuns(db.prisma, { ...services(), batchSize: 1000 });
    const ours = published.filter((change) => threads.includes(change.messageThreadId));
    expect(
      ours
        .filter((change) => change.kind === 'timedOut')
        .map((change) => change.flowRunId)
        .sort(),
    ).toEqual(firsts.map((run) => run.id).sort());
    const promotedThreads = ours.filter((change) => change.kind === 'promoted').map((change) => change.messageThreadId);
    expect(promotedThreads.sort()).toEqual([...threads].sort());
    expect(a.timedOut + b.timedOut).toBeGreaterThan(0);
    for (const thread of threads) {
      const counts = await db.prisma.flowRun.groupBy({ by: ['status'], where: { messageThreadId: thread }, _count: true });
      expect(Object.fromEntries(counts.map((row) => [row.status, row._count]))).toEqual({ timeout: 1, running: 1, queued: 1 });
    }
  });
});
