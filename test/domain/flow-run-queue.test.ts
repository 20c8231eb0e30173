// The queue's rules are written once (src/domain/flow-run-queue.ts) and compiled to a
// predicate, a Prisma where and SQL: here the three are held to each other on both
// databases, on every status and on expiries at, just before and just after `now`.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/database/generated/prisma/client.ts';
import {
  effectiveStatus,
  effectiveStatusWhere,
  expiredSql,
  expiryFrom,
  expirySql,
  IDEMPOTENCY_KEY_TTL_MS,
  idempotencyKeyExpiredSql,
  idempotencyKeyExpiredWhere,
  isExpired,
  isIdempotencyKeyExpired,
  liveSql,
} from '../../src/domain/flow-run-queue.ts';
import { FLOW_RUN_STATUSES, type FlowRunStatus } from '../../src/domain/flow-run-status.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { HOUR, TestClock } from '../support/clock.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { newFlow, newThread, tenantWith } from '../support/fixtures.ts';

const EXPIRY_OFFSETS = [null, -HOUR, -1, 0, 1, HOUR];
const KEY_AGES = [IDEMPOTENCY_KEY_TTL_MS + 1, IDEMPOTENCY_KEY_TTL_MS, IDEMPOTENCY_KEY_TTL_MS - 1, HOUR, 0];

interface Run {
  id: string;
  status: FlowRunStatus;
  expiresAt: Date | null;
}

describe.each(databaseTargets())('the queue rules on $name', (target) => {
  let db: TestDatabase;
  let tenant: Tenant;
  const clock = new TestClock();
  const now = clock.now();
  const runs: Run[] = [];

  beforeAll(async () => {
    db = await openTestDatabase(target);
    tenant = (await tenantWith(db, { clock })).tenant;
    const flowId = await newFlow(tenant);
    // Every status with every expiry, each run on a thread of its own (one running run a thread).
    for (const status of FLOW_RUN_STATUSES) {
      for (const offset of EXPIRY_OFFSETS) {
        const expiresAt = offset === null ? null : new Date(now.getTime() + offset);
        const run = await db.prisma.flowRun.create({
          data: {
            id: randomUUID(),
            organizationId: tenant.organizationId,
            flowId,
            messageThreadId: await newThread(tenant, 'rules'),
            state: {},
            initialMessage: {},
            status,
            expiresAt,
          },
          select: { id: true, status: true, expiresAt: true },
        });
        runs.push(run);
      }
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  const selectedBySql = async (condition: Prisma.Sql) => {
    const rows = await db.prisma.$queryRaw<{ id: string; holds: boolean }[]>(
      Prisma.sql`SELECT id::text AS id, ${condition} AS holds FROM "FlowRun" r WHERE r."organizationId" = ${tenant.organizationId}::uuid`,
    );
    return new Set(rows.filter((row) => row.holds).map((row) => row.id));
  };
  const ids = (selected: Run[]) => new Set(selected.map((run) => run.id));

  it('a running run is expired from its expiresAt on: the predicate says so at the boundary', () => {
    const expired = runs.filter((run) => isExpired(run, now));
    expect(expired.map((run) => [run.status, run.expiresAt && run.expiresAt.getTime() - now.getTime()])).toEqual([
      ['running', -HOUR],
      ['running', -1],
      ['running', 0],
    ]);
  });

  it('expired and live runs: the SQL fragments select what the predicate says', async () => {
    expect(await selectedBySql(expiredSql(now, 'r'))).toEqual(ids(runs.filter((run) => isExpired(run, now))));
    const live = runs.filter((run) => run.status === 'running' && !isExpired(run, now));
    expect(live).toHaveLength(3);
    expect(await selectedBySql(liveSql(now, 'r'))).toEqual(ids(live));
  });

  it('filtering by effective status: Prisma, the compiled read and the predicate select the same runs for every set of statuses', async () => {
    const sets = Array.from({ length: 2 ** FLOW_RUN_STATUSES.length }, (_, bits) => FLOW_RUN_STATUSES.filter((_, index) => bits & (1 << index)));
    for (const statuses of sets) {
      const where = effectiveStatusWhere(statuses, now);
      const expected = ids(runs.filter((run) => statuses.includes(effectiveStatus(run, now))));
      const viaPrisma = await tenant.db.flowRun.findMany({ where, select: { id: true } });
      const viaCompiled = await tenant.reads.flowRuns.findMany({ where, select: { id: true } });
      expect(ids(viaPrisma as Run[]), statuses.join(',')).toEqual(expected);
      expect(ids(viaCompiled), statuses.join(',')).toEqual(expected);
    }
  });

  it('an idempotency key is taken over from 24 hours on: the predicate, the where and the SQL agree at the boundary', async () => {
    for (const age of KEY_AGES) {
      await db.prisma.idempotentTrigger.create({
        data: {
          organizationId: tenant.organizationId,
          key: `age-${age}`,
          requestHash: 'h',
          flowRunId: runs[0]?.id ?? '',
          createdAt: new Date(now.getTime() - age),
        },
      });
    }
    const keys = KEY_AGES.map((age) => ({ key: `age-${age}`, createdAt: new Date(now.getTime() - age) }));
    const expected = keys.filter((key) => isIdempotencyKeyExpired(key, now)).map((key) => key.key);
    expect(expected).toEqual([`age-${IDEMPOTENCY_KEY_TTL_MS + 1}`, `age-${IDEMPOTENCY_KEY_TTL_MS}`]);

    const bySql = await db.prisma.$queryRaw<{ key: string }[]>(
      Prisma.sql`SELECT k.key FROM "IdempotentTrigger" k
                 WHERE k."organizationId" = ${tenant.organizationId}::uuid AND ${idempotencyKeyExpiredSql(now, 'k')}`,
    );
    const byWhere = await db.prisma.idempotentTrigger.findMany({
      where: { organizationId: tenant.organizationId, ...idempotencyKeyExpiredWhere(now) },
      select: { key: true },
    });
    expect(bySql.map((row) => row.key).sort()).toEqual([...expected].sort());
    expect(byWhere.map((row) => row.key).sort()).toEqual([...expected].sort());
  });

  it('an expiry some minutes after a start: TypeScript and SQL compute the same instant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        async (start, minutes) => {
          const [row] = await db.prisma.$queryRaw<{ expiry: Date }[]>(
            Prisma.sql`SELECT ${expirySql(Prisma.sql`${start}::timestamptz`, Prisma.sql`${minutes}::int`)} AS expiry`,
          );
          expect(row?.expiry.getTime()).toBe(expiryFrom(start, minutes).getTime());
        },
      ),
      { numRuns: 100, seed: 19 },
    );
  });
});
