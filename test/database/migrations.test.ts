// The checked-in migrations must build exactly the model in prisma/schema.prisma: the
// WASM schema engine diffs a database migrated from the SQL files against the schema.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, describe, expect, it } from 'vitest';
import { applyMigrations, readMigrations, type SqlSession } from '../../src/database/migrations.ts';
import { isEmptyMigration, sqlFromDatabaseToSchema } from '../../prisma/schema-engine.ts';

const SCHEMA_PATH = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url));

function sessionOf(pglite: PGlite): SqlSession {
  return {
    async exec(text) {
      await pglite.exec(text);
    },
    async query<Row>(text: string, params?: unknown[]) {
      return (await pglite.query<Row>(text, params)).rows;
    },
  };
}

describe('migrations', () => {
  const opened: PGlite[] = [];
  async function freshDatabase() {
    const pglite = new PGlite();
    await pglite.waitReady;
    opened.push(pglite);
    return pglite;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((pglite) => pglite.close()));
  });

  it('build exactly the model of schema.prisma (no drift)', async () => {
    const pglite = await freshDatabase();
    const migrations = await readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    const applied = await applyMigrations(sessionOf(pglite));
    expect(applied).toEqual(migrations.map((migration) => migration.name));

    const drift = await sqlFromDatabaseToSchema(pglite, SCHEMA_PATH);
    expect(isEmptyMigration(drift), `the migrations differ from schema.prisma:\n${drift}`).toBe(true);
  });

  it('show drift when the database lacks a column', async () => {
    const pglite = await freshDatabase();
    await applyMigrations(sessionOf(pglite));
    await pglite.exec('ALTER TABLE "FlowRun" DROP COLUMN "cost"');
    const drift = await sqlFromDatabaseToSchema(pglite, SCHEMA_PATH);
    expect(isEmptyMigration(drift)).toBe(false);
    expect(drift).toMatch(/"cost"/);
  });

  it('show drift when the one-running-run index is missing', async () => {
    const pglite = await freshDatabase();
    await applyMigrations(sessionOf(pglite));
    await pglite.exec('DROP INDEX "FlowRun_one_running_per_thread"');
    const drift = await sqlFromDatabaseToSchema(pglite, SCHEMA_PATH);
    expect(isEmptyMigration(drift)).toBe(false);
    expect(drift).toMatch(/FlowRun_one_running_per_thread/);
  });

  it('tells an empty diff script from one with statements', () => {
    expect(isEmptyMigration('')).toBe(true);
    expect(isEmptyMigration('-- This is an empty migration.\n\n')).toBe(true);
    expect(isEmptyMigration('-- AlterTable\nALTER TABLE "Flow" ADD COLUMN "x" INTEGER;\n')).toBe(false);
  });

  it('does nothing when applied again', async () => {
    const pglite = await freshDatabase();
    const session = sessionOf(pglite);
    await applyMigrations(session);
    await pglite.exec(`INSERT INTO "Organization" (id, name) VALUES ('6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', 'kept')`);
    const history = await session.query('SELECT id, checksum, migration_name FROM "_prisma_migrations" ORDER BY migration_name');

    expect(await applyMigrations(session)).toEqual([]);
    expect(await session.query('SELECT id, checksum, migration_name FROM "_prisma_migrations" ORDER BY migration_name')).toEqual(history);
    expect(await session.query('SELECT name FROM "Organization"')).toEqual([{ name: 'kept' }]);
  });

  it('records checksums that match the migration files', async () => {
    const pglite = await freshDatabase();
    const session = sessionOf(pglite);
    await applyMigrations(session);
    const migrations = await readMigrations();
    const rows = await session.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(rows.map((row) => [row.migration_name, row.checksum])).toEqual(
      migrations.map((migration) => [migration.name, createHash('sha256').update(migration.sql).digest('hex')]),
    );
    expect(rows.every((row) => row.finished_at !== null)).toBe(true);
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const pglite = await freshDatabase();
    const session = sessionOf(pglite);
    await applyMigrations(session);
    const [first, ...rest] = await readMigrations();
    if (!first) throw new Error('no migrations to edit');
    const sql = `${first.sql}\n-- edited afterwards\n`;
    const edited = { ...first, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    await expect(applyMigrations(session, [edited, ...rest])).rejects.toThrow(/edited after it was applied/);
  });

  it('applies a new migration on top and rolls back a failing one', async () => {
    const pglite = await freshDatabase();
    const session = sessionOf(pglite);
    const migrations = await readMigrations();
    await applyMigrations(session, migrations);
    const extra = (name: string, sql: string) => ({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });

    const good = extra('99990101000000_extra', 'CREATE TABLE "Extra" (id INTEGER PRIMARY KEY);');
    expect(await applyMigrations(session, [...migrations, good])).toEqual([good.name]);

    const bad = extra('99990102000000_broken', 'CREATE TABLE "Half" (id INTEGER); SELECT * FROM "NoSuchTable";');
    await expect(applyMigrations(session, [...migrations, good, bad])).rejects.toThrow(/NoSuchTable/);
    const half = await session.query(`SELECT to_regclass('"Half"') AS half`);
    expect(half).toEqual([{ half: null }]);
    const names = await session.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"');
    expect(names.map((row) => row.migration_name)).not.toContain(bad.name);
  });
});
