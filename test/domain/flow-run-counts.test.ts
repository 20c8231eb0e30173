// The per-organization run counts kept by the database trigger agree with count(*)
// after concurrent triggers and deletes, and never mix organizations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countAllFlowRuns } from '../../src/domain/flow-run-counts.ts';
import { deleteFlowRun } from '../../src/domain/flow-runs.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newFlow, newThread, triggerRun } from '../support/fixtures.ts';
import { at } from '../support/items.ts';

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
    const flowId = await newFlow(org.tenant, 'Counted');
    const threads = await Promise.all(Array.from({ length: 5 }, () => newThread(org.tenant, 'count')));
    const results = await Promise.all(Array.from({ length: runs }, (_, i) => triggerRun(org.tenant, flowId, at(threads, i % threads.length))));
    return results.map((run) => run.id);
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
