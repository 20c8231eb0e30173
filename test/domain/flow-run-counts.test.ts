// The per-organization run counts kept by the database triggers agree with count(*)
// after concurrent triggers and deletes, after statements that insert or delete
// thousands of runs at once (several at a time on PostgreSQL), when an organization is
// deleted, and across the migration that brought in the statement-level triggers; they
// never mix organizations.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, readMigrations, type SqlSession } from '../../src/database/migrations.ts';
import { countAllFlowRuns } from '../../src/domain/flow-run-counts.ts';
import { deleteFlowRun } from '../../src/domain/flow-runs.ts';
import {
  createScratchDatabase,
  createTestTenant,
  databaseTargets,
  openTestDatabase,
  type TestDatabase,
  type TestTenant,
} from '../support/database.ts';
import { newFlow, newThread, triggerRun } from '../support/fixtures.ts';
import { at, only } from '../support/items.ts';

type Query = SqlSession['query'];

/** Every (organization, shard) whose count is not zero, from the counts and from the runs: they must be equal. */
async function countsAndRuns(query: Query) {
  const counted = await query<{ organizationId: string; shard: number; runs: number }>(
    `SELECT "organizationId", "shard", "count" AS runs FROM "FlowRunCount" WHERE "count" <> 0 ORDER BY 1, 2`,
  );
  const actual = await query<{ organizationId: string; shard: number; runs: number }>(
    `SELECT "organizationId", hashtext("id"::text) & 7 AS "shard", count(*)::int AS runs FROM "FlowRun" GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return { counted, actual };
}

async function expectExactCounts(query: Query) {
  const { counted, actual } = await countsAndRuns(query);
  expect(counted).toEqual(actual);
}

/**
 * One statement inserting `runs` finished runs per (organization, flow, thread); `cost`
 * numbers them 0, 1, 2, … within each, so that deletes can pick slices. With a shard
 * order, the rows go in sorted by the shard they count in, so that a trigger that counts
 * row by row visits the shards in that order.
 */
function insertRuns(
  query: Query,
  targets: { organizationId: string; flowId: string; threadId: string; runs: number }[],
  shardOrder?: 'ASC' | 'DESC',
) {
  const selects = targets.map(
    (_, t) =>
      `SELECT gen_random_uuid() AS id, $${4 * t + 1}::uuid AS org, $${4 * t + 2}::uuid AS flow, $${4 * t + 3}::uuid AS thread, i
       FROM generate_series(0, $${4 * t + 4}::int - 1) AS i`,
  );
  const order = shardOrder ? `ORDER BY hashtext(id::text) & 7 ${shardOrder}` : '';
  return query(
    `INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "status", "cost")
     SELECT id, org, flow, thread, 'finished', i FROM (${selects.join(' UNION ALL ')}) AS runs ${order}`,
    targets.flatMap((target) => [target.organizationId, target.flowId, target.threadId, target.runs]),
  );
}

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

  /** A new organization with a flow and a thread to put runs on. */
  async function bulkTarget(name: string) {
    const org = await createTestTenant(db, 'write', name);
    return { org, flowId: await newFlow(org.tenant, 'Bulk'), threadId: await newThread(org.tenant, 'bulk') };
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

  it('counts a statement that inserts thousands of runs into two organizations, and one that deletes many', async () => {
    const c = await bulkTarget('C');
    const d = await bulkTarget('D');
    await insertRuns(db.sql.query, [
      { organizationId: c.org.organizationId, flowId: c.flowId, threadId: c.threadId, runs: 3_000 },
      { organizationId: d.org.organizationId, flowId: d.flowId, threadId: d.threadId, runs: 2_000 },
    ]);
    expect(await countAllFlowRuns(c.org.tenant)).toBe(3_000);
    expect(await countAllFlowRuns(d.org.tenant)).toBe(2_000);
    await expectExactCounts(db.sql.query);

    await db.sql.query(`DELETE FROM "FlowRun" WHERE "organizationId" IN ($1, $2) AND "cost" % 3 = 0`, [c.org.organizationId, d.org.organizationId]);
    expect(await countAllFlowRuns(c.org.tenant)).toBe(2_000);
    expect(await countAllFlowRuns(d.org.tenant)).toBe(1_333);
    await expectExactCounts(db.sql.query);

    // The service's own writes, one run per statement, still move the count by one.
    const run = await triggerRun(c.org.tenant, c.flowId, c.threadId);
    expect(await countAllFlowRuns(c.org.tenant)).toBe(2_001);
    await deleteFlowRun(c.org.tenant, run.id);
    expect(await countAllFlowRuns(c.org.tenant)).toBe(2_000);
    await expectExactCounts(db.sql.query);
  });

  it('counts concurrent multi-row inserts and deletes into one organization without deadlocking', async () => {
    // On PostgreSQL each statement runs on its own pooled connection, at the same time.
    // Half of them insert their runs in ascending shard order, half in descending: counts
    // updated row by row, in the order the rows come, deadlock here.
    const e = await bulkTarget('E');
    const target = { organizationId: e.org.organizationId, flowId: e.flowId, threadId: e.threadId, runs: 1_500 };
    const statements = 6;
    await Promise.all(Array.from({ length: statements }, (_, k) => insertRuns(db.sql.query, [target], k % 2 ? 'DESC' : 'ASC')));
    expect(await countAllFlowRuns(e.org.tenant)).toBe(statements * 1_500);
    await expectExactCounts(db.sql.query);

    // Each delete takes a disjoint sixth of the runs, from all eight shards.
    await Promise.all(
      Array.from({ length: statements }, (_, k) =>
        db.sql.query(`DELETE FROM "FlowRun" WHERE "organizationId" = $1 AND "cost" % $2 = $3`, [e.org.organizationId, statements, k]),
      ),
    );
    expect(await countAllFlowRuns(e.org.tenant)).toBe(0);
    await expectExactCounts(db.sql.query);
  });

  it('drops the counts with the organization, whose runs go with it', async () => {
    const f = await bulkTarget('F');
    await insertRuns(db.sql.query, [{ organizationId: f.org.organizationId, flowId: f.flowId, threadId: f.threadId, runs: 1_000 }]);
    await triggerRun(f.org.tenant, f.flowId, f.threadId);
    await db.prisma.organization.delete({ where: { id: f.org.organizationId } });
    expect(await db.sql.query(`SELECT * FROM "FlowRunCount" WHERE "organizationId" = $1`, [f.org.organizationId])).toEqual([]);
    await expectExactCounts(db.sql.query);
  });
});

describe.each(databaseTargets())('the statement-level count triggers migration on $name', (target) => {
  it('keeps the counts of the runs that were there before', async () => {
    let session: SqlSession;
    let close: () => Promise<void>;
    if (target.name === 'embedded') {
      const pglite = new PGlite();
      await pglite.waitReady;
      session = {
        exec: async (text) => void (await pglite.exec(text)),
        query: async (text, params) => (await pglite.query(text, params)).rows as never,
      };
      close = () => pglite.close();
    } else {
      const scratch = await createScratchDatabase(target.serverUrl!);
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      session = { exec: async (text) => void (await client.query(text)), query: async (text, params) => (await client.query(text, params)).rows };
      close = async () => {
        await client.end();
        await scratch.drop();
      };
    }
    try {
      const migrations = await readMigrations();
      const index = migrations.findIndex((migration) => migration.name.endsWith('_flow_run_counts_per_statement'));
      expect(index).toBeGreaterThan(0);
      await applyMigrations(session, migrations.slice(0, index));

      const { id: organizationId } = only(
        await session.query<{ id: string }>(`INSERT INTO "Organization" ("id", "name") VALUES (gen_random_uuid(), 'Before') RETURNING "id"`),
      );
      const { id: flowId } = only(
        await session.query<{ id: string }>(
          `INSERT INTO "Flow" ("id", "organizationId", "name", "updatedAt") VALUES (gen_random_uuid(), $1, 'Flow', now()) RETURNING "id"`,
          [organizationId],
        ),
      );
      const { id: threadId } = only(
        await session.query<{ id: string }>(
          `INSERT INTO "MessageThread" ("id", "organizationId", "channel", "identifier", "updatedAt") VALUES (gen_random_uuid(), $1, 'web', 'w', now()) RETURNING "id"`,
          [organizationId],
        ),
      );
      await insertRuns(session.query, [{ organizationId, flowId, threadId, runs: 2_500 }]);
      await session.query(`DELETE FROM "FlowRun" WHERE "cost" % 5 = 0`);
      await expectExactCounts(session.query);

      expect(await applyMigrations(session, migrations)).toEqual(migrations.slice(index).map((migration) => migration.name));
      await expectExactCounts(session.query);
      const total = async () => only(await session.query<{ runs: number }>(`SELECT sum("count")::int AS runs FROM "FlowRunCount"`)).runs;
      expect(await total()).toBe(2_000);

      // The new triggers carry on from the counts that were there.
      await insertRuns(session.query, [{ organizationId, flowId, threadId, runs: 700 }]);
      await session.query(`DELETE FROM "FlowRun" WHERE "cost" % 7 = 1`);
      await expectExactCounts(session.query);
      expect(await total()).toBe(only(await session.query<{ runs: number }>(`SELECT count(*)::int AS runs FROM "FlowRun"`)).runs);
    } finally {
      await close();
    }
  });
});
