// Migrating as a deploy step: an instance started with MIGRATE_ON_START=false on a fresh
// database is not ready (503, naming the pending migrations) until `npm run migrate` has
// applied them; the command exits 0 (again 0 with nothing to do) and non-zero when it
// cannot reach the database. On the embedded database, and on PostgreSQL when set.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/database/migrations.ts';
import { createScratchDatabase, databaseTargets } from '../support/database.ts';
import { serviceEnvironment, startServerProcess, type ServerProcess } from '../support/server-process.ts';

/** Runs the migrate command as `npm run migrate` does (from source here), with `env` only. */
function migrate(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/migrate.ts'], {
      env: serviceEnvironment({ ...env, LOG_LEVEL: 'info' }),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe.each(databaseTargets())('npm run migrate on $name', (target) => {
  let parent: string | undefined;
  let scratch: { url: string; drop(): Promise<void> } | undefined;
  let server: ServerProcess | undefined;

  afterAll(async () => {
    if (server && server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
    if (parent) await rm(parent, { recursive: true, force: true });
    await scratch?.drop();
  });

  /** A fresh, empty database for this target, as the environment that names it. */
  async function freshDatabase(): Promise<Record<string, string>> {
    if (target.name === 'embedded') {
      parent = await mkdtemp(join(tmpdir(), 'frg-migrate-'));
      return { DATA_DIR: join(parent, 'db') };
    }
    scratch = await createScratchDatabase(target.serverUrl!);
    return { DATABASE_URL: scratch.url };
  }

  it('an instance that does not migrate waits, not ready, until the deploy step has migrated', async () => {
    const env = await freshDatabase();
    const all = (await readMigrations()).map((migration) => migration.name);

    server = await startServerProcess({ ...env, MIGRATE_ON_START: 'false' });
    const before = await fetch(`${server.base}/readyz`);
    expect(before.status).toBe(503);
    expect(await before.json()).toMatchObject({ pendingMigrations: all });

    // The embedded database belongs to one process: the server steps aside for the command.
    if (target.name === 'embedded') {
      server.process.kill('SIGTERM');
      await server.exited;
    }
    const first = await migrate(env);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain(`applied ${all.length} migration(s)`);
    const again = await migrate(env);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('no pending migrations');

    if (target.name === 'embedded') server = await startServerProcess({ ...env, MIGRATE_ON_START: 'false' });
    const after = await fetch(`${server.base}/readyz`);
    expect(after.status).toBe(200);
  }, 300_000); // two server starts and two migrate runs, each up to a minute on the loaded CI machine

  it('exits non-zero when it cannot migrate', async () => {
    const env: Record<string, string> =
      target.name === 'embedded' ? { DATA_DIR: '/dev/null/db' } : { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' };
    const result = await migrate(env);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('migrating failed');
  }, 60_000);
});
