// The hand-written read of runs (src/database/flow-run-reads.ts) must mean what Prisma's
// findMany means for the same arguments: every filter, order and paging shape the GraphQL
// lists produce is read both ways and compared row for row, on data where the keys tie
// (same createdAt, same cost) and where a running run has expired. It must also stay in its
// organization, and send one statement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFlowRunRead, type FlowRunReadArgs } from '../../src/database/flow-run-reads.ts';
import { effectiveStatusWhere } from '../../src/domain/flow-run-queue.ts';
import { orderByWithTieBreak } from '../../src/graphql/types/lists.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { seedRunsOnSeparateThreads } from '../support/seed.ts';

const LIGHT = { id: true, status: true, cost: true, createdAt: true, updatedAt: true, expiresAt: true } as const;
const EVERYTHING = {
  ...LIGHT,
  flowId: true,
  messageThreadId: true,
  organizationId: true,
  state: true,
  initialMessage: true,
  flow: true,
  messageThread: true,
} as const;

describe.each(databaseTargets())('reading runs without Prisma on $name', (target) => {
  let db: TestDatabase;
  let org: TestTenant;
  let other: TestTenant;
  let ids: string[];
  const now = new Date();

  beforeAll(async () => {
    db = await openTestDatabase(target);
    org = await createTestTenant(db);
    other = await createTestTenant(db, 'write', 'Other org');
    await seedRunsOnSeparateThreads(org.tenant, { flows: 3, runs: 24 });
    await seedRunsOnSeparateThreads(other.tenant, { flows: 2, runs: 6 });
    const runs = await db.prisma.flowRun.findMany({ where: { organizationId: org.organizationId }, orderBy: { sequence: 'asc' } });
    ids = runs.map((run) => run.id);
    // Ties on every sort key: groups of runs share createdAt, costs repeat, statuses vary,
    // and two running runs are past their expiry (they read as timeout).
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (const [index, run] of runs.entries()) {
      await db.prisma.flowRun.update({
        where: { id: run.id },
        data: {
          createdAt: new Date(base + Math.floor(index / 3) * 60_000),
          cost: index % 4,
          state: { step: index, answers: [{ q: 'a', a: index }] },
          ...(index % 5 === 0 && { status: 'finished', expiresAt: null }),
          ...(index % 7 === 1 && { expiresAt: new Date(now.getTime() - 60_000) }),
        },
      });
    }
  });

  afterAll(async () => {
    await db?.close();
  });

  async function bothWays(args: FlowRunReadArgs) {
    const compiled = compileFlowRunRead(org.organizationId, args);
    expect(compiled, `compiles ${JSON.stringify(args)}`).toBeDefined();
    const plain = compiled!.assemble(await db.reader(compiled!.text, compiled!.values));
    const prisma = await org.tenant.db.flowRun.findMany(args as never);
    return { plain, prisma };
  }

  const orders = {
    newest: orderByWithTieBreak(null, { field: 'createdAt', direction: 'desc' }),
    cheapest: orderByWithTieBreak([{ field: 'cost', direction: 'asc' }], { field: 'createdAt', direction: 'desc' }),
    mixed: orderByWithTieBreak(
      [
        { field: 'status', direction: 'asc' },
        { field: 'createdAt', direction: 'desc' },
      ],
      { field: 'createdAt', direction: 'desc' },
    ),
    updated: orderByWithTieBreak([{ field: 'updatedAt', direction: 'asc' }], { field: 'createdAt', direction: 'desc' }),
  };

  it.each(Object.entries(orders))('pages in the %s order, forwards and backwards from cursors, as Prisma does', async (_name, orderBy) => {
    const { plain: all, prisma: allByPrisma } = await bothWays({ select: LIGHT, orderBy });
    expect(all).toEqual(allByPrisma);
    expect(all).toHaveLength(24);
    for (const at of [0, 7, 12, 23]) {
      const cursor = { id: (all[at] as { id: string }).id };
      for (const paging of [
        { cursor, skip: 1, take: 5 },
        { cursor, skip: 1, take: -5 },
        { cursor, take: 3 },
        { cursor, skip: 0, take: -2 },
      ]) {
        const { plain, prisma } = await bothWays({ select: LIGHT, orderBy, ...paging });
        expect(plain, JSON.stringify(paging)).toEqual(prisma);
      }
    }
    for (const paging of [{ take: 4 }, { take: -4 }, { take: 6, skip: 20 }, { take: 0 }]) {
      const { plain, prisma } = await bothWays({ select: LIGHT, orderBy, ...paging });
      expect(plain, JSON.stringify(paging)).toEqual(prisma);
    }
  });

  it('filters as Prisma does: effective status (expired running runs read as timeout), ids, updatedSince', async () => {
    const flowId = (await db.prisma.flowRun.findUniqueOrThrow({ where: { id: ids[4]! } })).flowId;
    const wheres = [
      effectiveStatusWhere(['running'], now),
      effectiveStatusWhere(['timeout'], now),
      effectiveStatusWhere(['finished', 'running'], now),
      effectiveStatusWhere([], now),
      { flowId },
      { messageThreadId: (await db.prisma.flowRun.findUniqueOrThrow({ where: { id: ids[9]! } })).messageThreadId },
      { id: ids[3]! },
      { updatedAt: { gte: new Date(now.getTime() - 3_600_000) } },
      { updatedAt: { gte: new Date(now.getTime() + 3_600_000) } },
      { flowId, ...effectiveStatusWhere(['finished', 'timeout'], now) },
      { status: { in: [] } },
    ];
    let nonEmpty = 0;
    for (const where of wheres) {
      const { plain, prisma } = await bothWays({ select: LIGHT, where, orderBy: orders.newest, take: 30 });
      expect(plain, JSON.stringify(where)).toEqual(prisma);
      if (plain.length) nonEmpty++;
    }
    // The comparisons compared something: most filters match some runs.
    expect(nonEmpty).toBeGreaterThanOrEqual(7);
  });

  it('reads every column and the joined flow and thread as Prisma returns them', async () => {
    const { plain, prisma } = await bothWays({ select: EVERYTHING, orderBy: orders.newest, take: 10, skip: 2 });
    expect(plain).toEqual(prisma);
    expect(plain[0]).toMatchObject({ flow: { name: expect.any(String) }, messageThread: { channel: 'web' }, state: { answers: [{ q: 'a' }] } });
  });

  it("never reads another organization's runs, even by id or through a cursor of theirs", async () => {
    const theirs = await db.prisma.flowRun.findMany({ where: { organizationId: other.organizationId } });
    expect(theirs).toHaveLength(6);
    for (const run of theirs) {
      expect((await bothWays({ select: LIGHT, where: { id: run.id } })).plain).toEqual([]);
      expect((await bothWays({ select: LIGHT, orderBy: orders.newest, cursor: { id: run.id }, skip: 1, take: 5 })).plain).toEqual([]);
    }
    // By ids, theirs among mine: only mine come back.
    const [myRun] = await org.tenant.reads.flowRuns.findMany({ select: LIGHT, take: 1 });
    const byIds = await org.tenant.reads.flowRuns.findByIds([myRun!.id, ...theirs.map((run) => run.id)], EVERYTHING);
    expect([...byIds.keys()]).toEqual([myRun!.id]);
    const mine = await org.tenant.reads.flowRuns.findMany({ select: EVERYTHING, orderBy: orders.newest });
    expect(mine).toHaveLength(24);
    expect(mine.every((run) => run.organizationId === org.organizationId)).toBe(true);
  });

  it('reads a page with its relations in one statement', async () => {
    db.statements.length = 0;
    const page = await org.tenant.reads.flowRuns.findMany({ select: EVERYTHING, orderBy: orders.newest, take: 25 });
    expect(page).toHaveLength(24);
    expect(db.statements).toHaveLength(1);
    expect(db.statements[0]).toMatch(/^SELECT .* FROM "FlowRun" r LEFT JOIN "Flow" f .* LEFT JOIN "MessageThread" t /);
  });

  it('leaves to Prisma what it does not compile, with the same answer', async () => {
    const unsupported: FlowRunReadArgs[] = [
      { select: LIGHT, where: { NOT: { status: 'running' } }, orderBy: orders.newest },
      { select: { ...LIGHT, sequence: true } as never, orderBy: orders.newest, take: 3 },
      { where: { id: ids[0]! } },
      { select: { ...LIGHT, flow: { select: { name: true } } }, orderBy: orders.newest, take: 3 },
    ];
    for (const args of unsupported) {
      expect(compileFlowRunRead(org.organizationId, args), JSON.stringify(args)).toBeUndefined();
      expect(await org.tenant.reads.flowRuns.findMany(args)).toEqual(await org.tenant.db.flowRun.findMany(args as never));
    }
  });
});
