// The embedded database persists under its data directory and belongs to one process at
// a time; on PostgreSQL, instances starting together migrate one at a time.
import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Database, EmbeddedDatabaseBusyError, openDatabase } from '../../src/database/client.ts';
import { readMigrations } from '../../src/database/migrations.ts';
import { openToOthers } from '../support/file-modes.ts';
import { at } from '../support/items.ts';
import { createApiKey, createAuthenticator, createOrganization } from '../../src/domain/organizations.ts';

describe('embedded database in a data directory', () => {
  let parent: string;
  let dataDir: string;
  const opened: Database[] = [];

  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-embedded-'));
    dataDir = join(parent, 'data');
  });
  afterEach(async () => {
    for (const db of opened.splice(0).reverse()) await db.close();
    await rm(parent, { recursive: true, force: true });
  });
  const open = async () => {
    const db = await openDatabase({ dataDir });
    opened.push(db);
    return db;
  };
  const close = async (db: Database) => {
    opened.splice(opened.indexOf(db), 1);
    await db.close();
  };

  it('keeps its data across close and reopen', async () => {
    const first = await open();
    expect(first.kind).toBe('embedded');
    const organization = await createOrganization(first.prisma, 'Persistent');
    const key = await createApiKey(first.prisma, organization.id, 'write');
    await close(first);

    const second = await open();
    const stored = await second.prisma.organization.findUnique({ where: { id: organization.id } });
    expect(stored?.name).toBe('Persistent');
    expect((await createAuthenticator(second).authenticate(key)).organizationId).toBe(organization.id);
    // Reopening did not apply the migrations a second time.
    const history = await second.sql.query<{ count: number }>('SELECT count(*)::int AS count FROM "_prisma_migrations"');
    expect(history).toEqual([{ count: (await readMigrations()).length }]);
  });

  it('refuses a second opener while it is open, and lets it in once closed', async () => {
    const first = await open();
    await createOrganization(first.prisma, 'Owner');

    const second = openDatabase({ dataDir });
    await expect(second).rejects.toBeInstanceOf(EmbeddedDatabaseBusyError);
    await expect(second).rejects.toThrow(/in use by another process/);
    // The refused attempt did not disturb the open database.
    expect(await first.prisma.organization.count()).toBe(1);

    await close(first);
    const third = await open();
    expect(await third.prisma.organization.count()).toBe(1);
  });

  it('keeps its directory 700 and its files 600: when created, after writes, after close, and closes what an older version left open', async () => {
    const first = await open();
    expect(await openToOthers(dataDir)).toEqual([]);
    expect((await lstat(dataDir)).mode & 0o777).toBe(0o700);
    // Writes that make PostgreSQL create files (a table's first pages, its free space map, WAL).
    await first.sql.exec('CREATE TABLE scratch (id int, padding text)');
    await first.sql.exec("INSERT INTO scratch SELECT n, repeat('x', 200) FROM generate_series(1, 20000) AS n");
    await first.sql.exec('DELETE FROM scratch WHERE id % 2 = 0');
    await first.sql.exec('VACUUM scratch');
    await first.sql.exec('CHECKPOINT');
    const organization = await createOrganization(first.prisma, 'Modes');
    await createApiKey(first.prisma, organization.id, 'write');
    expect(await openToOthers(dataDir)).toEqual([]);
    await close(first);
    expect(await openToOthers(dataDir)).toEqual([]);

    // As an older version left it: the folder 755, PGlite's files 666, a folder of its own 755.
    await chmod(dataDir, 0o755);
    await chmod(join(dataDir, 'PG_VERSION'), 0o666);
    await mkdir(join(dataDir, 'left-over'), { mode: 0o755 });
    await chmod(join(dataDir, 'left-over'), 0o755);
    await writeFile(join(dataDir, 'left-over', 'file'), 'x', { mode: 0o644 });
    expect(await openToOthers(dataDir)).toHaveLength(4);
    const second = await open();
    expect(await openToOthers(dataDir)).toEqual([]);
    expect(await second.prisma.organization.count()).toBe(1);
  });

  it('keeps in-memory databases apart', async () => {
    const a = await openDatabase();
    const b = await openDatabase();
    opened.push(a, b);
    await createOrganization(a.prisma, 'Only in A');
    expect(await a.prisma.organization.count()).toBe(1);
    expect(await b.prisma.organization.count()).toBe(0);
  });
});

const serverUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!serverUrl)('PostgreSQL migrations under concurrency', () => {
  let name: string;
  let url: string;

  const admin = async <T>(work: (client: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };

  beforeEach(async () => {
    name = `test_${randomUUID().replace(/-/g, '')}`;
    await admin((client) => client.query(`CREATE DATABASE ${name}`));
    const parsed = new URL(serverUrl!);
    parsed.pathname = `/${name}`;
    url = parsed.toString();
  });
  afterEach(async () => {
    await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it('lets two instances migrate the same fresh database at once', async () => {
    const results = await Promise.allSettled([
      openDatabase({ databaseUrl: url, poolSize: 2 }),
      openDatabase({ databaseUrl: url, poolSize: 2 }),
      openDatabase({ databaseUrl: url, poolSize: 2 }),
    ]);
    const databases = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    try {
      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      const migrations = await readMigrations();
      const history = await at(databases, 0).sql.query<{ migration_name: string }>(
        'SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name',
      );
      expect(history.map((row) => row.migration_name)).toEqual(migrations.map((migration) => migration.name));
      // Every instance works on the migrated database.
      for (const db of databases) {
        expect(db.kind).toBe('postgresql');
        await createOrganization(db.prisma, 'Shared');
      }
      expect(await at(databases, 0).prisma.organization.count()).toBe(databases.length);
    } finally {
      await Promise.all(databases.map((db) => db.close()));
    }
  });
});
