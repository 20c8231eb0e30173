// The per-organization run counts kept by the database trigger agree with count(*)
// after concurrent triggers and deletes, and never mix organizations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countAllFlowRuns } from '../../src/domain/flow-run-counts.ts';
import { deleteFlowRun, triggerFlowRun } from '../../src/domain/flow-runs.ts';
import { createFlow } from '../../src/domain/flows.ts';
import { createMessageThread } from '../../src/domain/message-threads.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';

describe.each(databaseTargets())('flow-run counts on $name', (target) => {
  let db: TestDatabase;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    a = await createTestTenant(db, 'write', 'A');
    b = await createTestTenant(db, 'write', 'B');
  });
  afterAll(() => db.close());

  async function triggerMany(org: TestTenant, runs: number) {
    const flow = await createFlow(org.tenant, { name: 'Counted' });
    const threads = await Promise.all(
      Array.from({ length: 5 }, (_, i) => createMessageThread(org.tenant, { channel: 'web', identifier: `count-${org.organizationId}-${i}` })),
    );
    const results = await Promise.all(
      Array.from({ length: runs }, (_, i) =>
        triggerFlowRun(org.tenant, { flowId: flow.id, messageThreadId: threads[i % threads.length].id, state: {}, initialMessage: {} }),
      ),
    );
    return results.map((result) => result.run.id);
  }

  it('counts inserts and deletes, under concurrency, per organization', async () => {
    expect(await countAllFlowRuns(a.tenant)).toBe(0);
    const ids = await triggerMany(a, 40);
    await triggerMany(b, 7);
    expect(await countAllFlowRuns(a.tenant)).toBe(40);
    expect(await countAllFlowRuns(b.tenant)).toBe(7);

    await Promise.all(ids.slice(0, 15).map((id) => deleteFlowRun(a.tenant, id)));
    expect(await countAllFlowRuns(a.tenant)).toBe(25);
    expect(await a.tenant.db.flowRun.count()).toBe(25);
    expect(await countAllFlowRuns(b.tenant)).toBe(7);
  });
});
