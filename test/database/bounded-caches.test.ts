// What a client can grow by varying what it sends stays bounded: statement texts (a list
// filter makes one per list length) and organizations. On PostgreSQL each text gets a
// named statement, prepared on the connection that runs it; a connection keeps at most
// PREPARED_STATEMENTS_PER_CONNECTION of them, and the row reader remembers as many names.
// The embedded database prepares none. On both databases, and PostgreSQL with
// TEST_DATABASE_URL.
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREPARED_STATEMENTS_PER_CONNECTION } from '../../src/database/prepared-statements.ts';
import type { RowReader } from '../../src/database/row-reader.ts';
import { createAuthenticator, hashApiKey, SCOPED_CLIENTS_PER_DATABASE } from '../../src/domain/organizations.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';

const SHAPES = 10_000;
const MB = 1024 * 1024;

/** A full collection, so that RSS says what is kept, not what is garbage not yet collected. */
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as () => void);
  return () => {
    gc();
    gc();
  };
}

describe.each(databaseTargets())('what clients can grow stays bounded on $name', (target) => {
  let db: TestDatabase;
  let reader: RowReader;

  beforeAll(async () => {
    // One connection: every statement below is prepared (or not) on the one counted.
    db = await openTestDatabase(target, { poolSize: 1 });
    reader = db.reader;
  });
  afterAll(async () => {
    await db?.close();
  });

  const prepared = async () => Number((await reader('SELECT count(*)::int FROM pg_prepared_statements', []))[0]![0]);
  // ~2 KB, as a page query with its columns and joins is.
  const shape = (i: number) => `SELECT $1::int AS value /* shape ${i} ${'x'.repeat(2_000)} */`;

  it(`${SHAPES} distinct statement texts through the row reader keep the names, the prepared statements and RSS bounded`, async () => {
    const gc = collectGarbage();
    // The first statements load what every later one uses.
    for (let i = 0; i < 50; i++) await reader(shape(-1 - i), [i]);
    gc();
    const rssBefore = process.memoryUsage().rss;
    let mostPrepared = 0;
    let mostNames = 0;
    for (let i = 0; i < SHAPES; i++) {
      const [[value]] = (await reader(shape(i), [i])) as [[number]];
      if (value !== i) throw new Error(`shape ${i} read ${value}`);
      if (i % 1_000 === 999) {
        mostPrepared = Math.max(mostPrepared, await prepared());
        mostNames = Math.max(mostNames, reader.rememberedStatementNames?.() ?? 0);
      }
    }
    gc();
    const growthMb = (process.memoryUsage().rss - rssBefore) / MB;
    console.log(
      `bounded-caches (${target.name}): after ${SHAPES} statement texts, at most ${mostPrepared} prepared on the connection, ` +
        `${mostNames} names remembered; RSS grew ${growthMb.toFixed(1)} MB`,
    );
    expect(mostPrepared).toBeLessThanOrEqual(PREPARED_STATEMENTS_PER_CONNECTION);
    // PostgreSQL's reader remembers names up to the bound and no further; the embedded one names none.
    expect(mostNames).toBe(target.name === 'postgresql' ? PREPARED_STATEMENTS_PER_CONNECTION : 0);
    expect(growthMb).toBeLessThan(50);
    // One pushed out long ago is prepared again, and reads right.
    expect(await reader(shape(0), [42])).toEqual([[42]]);
    expect(await reader(shape(SHAPES - 1), [43])).toEqual([[43]]);
  }, 600_000);

  it('statements Prisma names are bounded on the connection too, inside a transaction as outside', async () => {
    const texts = PREPARED_STATEMENTS_PER_CONNECTION + 200;
    for (let i = 0; i < texts; i++) {
      const [row] = await db.prisma.$queryRawUnsafe<{ value: number }[]>(`SELECT ${i}::int AS value`);
      expect(row!.value).toBe(i);
    }
    expect(await prepared()).toBeLessThanOrEqual(PREPARED_STATEMENTS_PER_CONNECTION);
    // Statements pushed out inside a transaction are deallocated there without failing it.
    const id = randomUUID();
    await db.prisma.$transaction(async (tx) => {
      await tx.organization.create({ data: { id, name: 'In a transaction' } });
      for (let i = 0; i < texts; i++) {
        const [row] = await tx.$queryRawUnsafe<{ value: number }[]>(`SELECT ${i}::int AS value, 'tx' AS inside`);
        expect(row!.value).toBe(i);
      }
    });
    expect(await db.prisma.organization.count({ where: { id } })).toBe(1);
    expect(await prepared()).toBeLessThanOrEqual(PREPARED_STATEMENTS_PER_CONNECTION);
  }, 600_000);

  it('organizations beyond the bound keep the scoped clients bounded, and each key still acts for its own', async () => {
    const count = SCOPED_CLIENTS_PER_DATABASE + 200;
    const organizations = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), name: `Org ${i}`, key: `bounded-${randomUUID()}` }));
    await db.prisma.organization.createMany({ data: organizations.map(({ id, name }) => ({ id, name })) });
    await db.prisma.apiKey.createMany({
      data: organizations.map(({ id, key }) => ({ id: randomUUID(), organizationId: id, hash: hashApiKey(key), scope: 'read' as const })),
    });
    const authenticator = createAuthenticator(db);
    let most = 0;
    for (const organization of organizations) {
      const tenant = await authenticator.authenticate(organization.key);
      expect(tenant.organizationId).toBe(organization.id);
      most = Math.max(most, authenticator.scopedClientCount());
    }
    console.log(`bounded-caches (${target.name}): ${count} organizations, at most ${most} scoped clients kept`);
    expect(most).toBeLessThanOrEqual(SCOPED_CLIENTS_PER_DATABASE);
    // The first organization's client was pushed out: a new one, scoped to it alone.
    const first = organizations[0]!;
    const tenant = await authenticator.authenticate(first.key);
    expect(await tenant.db.organization.findMany({ select: { id: true } })).toEqual([{ id: first.id }]);
  }, 600_000);
});
