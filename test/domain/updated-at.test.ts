// A client polls runs by updatedSince, so every write of a run must move its updatedAt, or
// the poller never hears of that change. Each writer is checked the same way: the runs'
// updatedAt is set far back by hand, the writer runs, and the runs it changed (and only
// those) must carry a new updatedAt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discardChanges } from '../../src/domain/flow-run-changes.ts';
import { deleteFlowRun, patchFlowRun } from '../../src/domain/flow-runs.ts';
import { createFlow, updateFlow } from '../../src/domain/flows.ts';
import { sweepExpiredRuns } from '../../src/domain/session-timeouts.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { MINUTE, TestClock } from '../support/clock.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { newThread as threadOf, tenantWith, triggerRun } from '../support/fixtures.ts';

const LONG_AGO = new Date('2000-01-01T00:00:00Z');

describe.each(databaseTargets())('every writer of a run moves its updatedAt, on $name', (target) => {
  let db: TestDatabase;
  let tenant: Tenant;
  let clock: TestClock;
  let flowId: string;

  const newThread = () => threadOf(tenant, 'poll');
  const trigger = (messageThreadId: string, idempotencyKey?: string) => triggerRun(tenant, flowId, messageThreadId, { idempotencyKey });
  const ageRuns = (...ids: string[]) => db.prisma.flowRun.updateMany({ where: { id: { in: ids } }, data: { updatedAt: LONG_AGO } });
  const updatedAt = async (id: string) => (await db.prisma.flowRun.findUniqueOrThrow({ where: { id } })).updatedAt;

  /** Runs `write` on aged runs and answers which of them it left with a newer updatedAt. */
  async function moved(ids: string[], write: () => Promise<unknown>): Promise<string[]> {
    await ageRuns(...ids);
    await write();
    const after = await Promise.all(ids.map(async (id) => [id, await updatedAt(id)] as const));
    return after.filter(([, at]) => at.getTime() > LONG_AGO.getTime()).map(([id]) => id);
  }

  beforeAll(async () => {
    db = await openTestDatabase(target);
    clock = new TestClock(new Date());
    tenant = (await tenantWith(db, { clock, changes: discardChanges })).tenant;
    flowId = (await createFlow(tenant, { name: 'Polled', sessionTimeout: 60 })).id;
  });
  afterAll(() => db.close());

  it('a trigger writes updatedAt with the run (one-statement path and full path alike)', async () => {
    const before = new Date(Date.now() - 1000);
    const quick = await trigger(await newThread());
    const keyed = await trigger(await newThread(), 'poll-key');
    for (const run of [quick, keyed]) {
      expect(run.updatedAt.getTime()).toBeGreaterThanOrEqual(before.getTime());
      expect((await updatedAt(run.id)).getTime()).toBe(run.updatedAt.getTime());
    }
  });

  it('a patch of status or of state moves updatedAt', async () => {
    const run = await trigger(await newThread());
    expect(await moved([run.id], () => patchFlowRun(tenant, run.id, { status: 'finished' }))).toEqual([run.id]);
    expect(await moved([run.id], () => patchFlowRun(tenant, run.id, { state: { step: 2 } }))).toEqual([run.id]);
  });

  it('the promotion of a queued run moves its updatedAt (after an ending and after a delete)', async () => {
    const thread = await newThread();
    const first = await trigger(thread);
    const second = await trigger(thread);
    const third = await trigger(thread);
    expect(second.status).toBe('queued');
    expect(await moved([second.id], () => patchFlowRun(tenant, first.id, { status: 'cancelled' }))).toEqual([second.id]);
    expect(await moved([third.id], () => deleteFlowRun(tenant, second.id))).toEqual([third.id]);
  });

  it('the timeout sweep moves the timed-out run and the one it promotes', async () => {
    const thread = await newThread();
    const running = await trigger(thread);
    const queued = await trigger(thread);
    clock.advance(61 * MINUTE);
    const swept = await moved([running.id, queued.id], () => sweepExpiredRuns(db.prisma, { clock, changes: discardChanges }));
    expect(swept.sort()).toEqual([running.id, queued.id].sort());
    expect(await db.prisma.flowRun.findUniqueOrThrow({ where: { id: running.id } })).toMatchObject({ status: 'timeout' });
  });

  it('a trigger that times out the thread’s expired run first moves that run', async () => {
    const thread = await newThread();
    const running = await trigger(thread);
    clock.advance(61 * MINUTE);
    expect(await moved([running.id], () => trigger(thread))).toEqual([running.id]);
  });

  it('a change of the flow’s sessionTimeout, which moves its running runs’ expiry, moves their updatedAt', async () => {
    const running = await trigger(await newThread());
    const ended = await trigger(await newThread());
    await patchFlowRun(tenant, ended.id, { status: 'finished' });
    const shifted = await moved([running.id, ended.id], () => updateFlow(tenant, flowId, { sessionTimeout: 90 }));
    // Only the run whose expiry moved changed; an ended run has no expiry to move.
    expect(shifted).toEqual([running.id]);
    const expiry = (await db.prisma.flowRun.findUniqueOrThrow({ where: { id: running.id } })).expiresAt!;
    expect(expiry.getTime()).toBe(running.expiresAt!.getTime() + 30 * 60_000);
  });
});
