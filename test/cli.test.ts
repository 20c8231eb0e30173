// The administration CLI, run as its own process the way an operator runs it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/database/client.ts';
import { cliActor, recordAuditEvent } from '../src/domain/audit-log.ts';
import { createAuthenticator } from '../src/domain/organizations.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from './support/database.ts';
import { at, captured, exactly } from './support/items.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const STACK_FRAME = /^\s+at /m;
// Each CLI run starts a process and opens the database: a test of several runs takes a
// while on a loaded machine. A guard against a hang, not a timing assertion.
const SEVERAL_RUNS_MS = 300_000;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  lastLine: string;
}

/** Runs `tsx src/cli.ts ...args` with DATA_DIR or DATABASE_URL as given, and no other database. */
function runCli(args: string[], database: { dataDir?: string; databaseUrl?: string }): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  delete env.DATA_DIR;
  if (database.dataDir) env.DATA_DIR = database.dataDir;
  if (database.databaseUrl) env.DATABASE_URL = database.databaseUrl;
  return new Promise((resolve, reject) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['src/cli.ts', ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A guard against a hanging CLI, not a timing assertion.
    // (The first run on a new embedded database applies every migration: on a machine
    // under a load of 25 that took more than 50 s.)
    const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, lastLine: at(stdout.trimEnd().split('\n'), -1) });
    });
  });
}

describe.each(databaseTargets())('cli on $name', (target) => {
  let parent: string;
  let dataDir: string | undefined;
  let server: TestDatabase | undefined;
  const database = () => (server ? { databaseUrl: server.url } : { dataDir });
  /** The database the CLI wrote to, opened after the CLI has exited. */
  const openAfterwards = (): Promise<Database> => (server ? Promise.resolve(server) : openDatabase({ dataDir }));
  const closeAfterwards = async (db: Database) => {
    if (!server) await db.close();
  };

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-cli-'));
    if (target.name === 'embedded') dataDir = join(parent, 'data');
    else server = await openTestDatabase(target, { poolSize: 2 });
  });
  afterAll(async () => {
    await server?.close();
    await rm(parent, { recursive: true, force: true });
  });

  it(
    'creates an organization and keys that authenticate',
    async () => {
      const org = await runCli(['org', 'create', 'Acme Recruitment'], database());
      expect(org.stderr).not.toMatch(/error/i);
      expect(org.code).toBe(0);
      expect(org.lastLine).toMatch(UUID);
      const organizationId = org.lastLine;

      const writeKey = await runCli(['key', 'create', '--org', organizationId], database());
      expect(writeKey.code).toBe(0);
      expect(writeKey.stdout).toMatch(/shown once/);
      expect(writeKey.lastLine).toMatch(/^\S+$/);
      expect(writeKey.lastLine.length).toBeGreaterThanOrEqual(20);

      const readKey = await runCli(['key', 'create', '--read-only', '--org', organizationId], database());
      expect(readKey.code).toBe(0);
      expect(readKey.lastLine).not.toBe(writeKey.lastLine);

      const db = await openAfterwards();
      try {
        const organization = await db.prisma.organization.findUniqueOrThrow({ where: { id: organizationId } });
        expect(organization.name).toBe('Acme Recruitment');
        const { authenticate } = createAuthenticator(db);
        const writer = await authenticate(writeKey.lastLine);
        expect(writer.organizationId).toBe(organizationId);
        expect(writer.access).toBe('write');
        const reader = await authenticate(readKey.lastLine);
        expect(reader.organizationId).toBe(organizationId);
        expect(reader.access).toBe('read');
        // Only hashes are stored.
        const hashes = (await db.prisma.apiKey.findMany({ where: { organizationId } })).map((key) => key.hash);
        expect(hashes).toHaveLength(2);
        expect(hashes).not.toContain(writeKey.lastLine);
        await expect(authenticate(`${writeKey.lastLine}x`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      } finally {
        await closeAfterwards(db);
      }
    },
    SEVERAL_RUNS_MS,
  );

  it('reports an unknown organization on stderr with exit code 1 and no stack trace', async () => {
    const result = await runCli(['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11'], database());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/organization 6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11 not found/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stdout).not.toMatch(/frg_/);
  });

  it(
    'lists the audit log newest first, at most --limit events, and says when there is none',
    async () => {
      const organizationId = (await runCli(['org', 'create', 'Audited'], database())).lastLine;
      const empty = await runCli(['audit', 'list', '--org', organizationId], database());
      expect(empty.code).toBe(0);
      expect(empty.lastLine).toBe(`No audit events for organization ${organizationId}.`);

      const db = await openAfterwards();
      try {
        for (const action of ['apiKey.created', 'apiKey.revoked'] as const) {
          await recordAuditEvent(db.prisma, {
            organizationId,
            actor: cliActor('ops'),
            action,
            subjectType: 'apiKey',
            subjectId: '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11',
            details: { name: 'ci' },
          });
        }
      } finally {
        await closeAfterwards(db);
      }
      const all = await runCli(['audit', 'list', '--org', organizationId], database());
      expect(all.code).toBe(0);
      const rows = all.stdout
        .trimEnd()
        .split('\n')
        .map((line) => line.split('\t'));
      expect(rows[0]).toEqual(['occurredAt', 'actor', 'action', 'subject', 'details']);
      expect(rows.slice(1).map((row) => row.slice(1))).toEqual([
        ['cli:ops', 'apiKey.revoked', 'apiKey:6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '{"name":"ci"}'],
        ['cli:ops', 'apiKey.created', 'apiKey:6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '{"name":"ci"}'],
      ]);
      const occurredAt = at(at(rows, 1), 0);
      expect(new Date(occurredAt).toISOString()).toBe(occurredAt);

      const one = await runCli(['audit', 'list', '--org', organizationId, '--limit', '1'], database());
      expect(one.stdout.trimEnd().split('\n')).toHaveLength(2);
      expect(one.lastLine).toMatch(/apiKey\.revoked/);

      const unknown = await runCli(['audit', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11'], database());
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/organization 6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11 not found/);
    },
    SEVERAL_RUNS_MS,
  );

  it(
    'creates a named, expiring key, lists it, rotates it with an overlap and revokes the successor; never prints a key or hash in a listing',
    async () => {
      const organizationId = (await runCli(['org', 'create', 'Rotating'], database())).lastLine;
      const created = await runCli(['key', 'create', '--org', organizationId, '--name', 'ci', '--expires-in', '7d'], database());
      expect(created.code).toBe(0);
      const oldKey = created.lastLine;
      const oldId = captured(/Its id \(for key revoke and key rotate\): (\S+)/, created.stdout);
      expect(oldId).toMatch(UUID);

      const listed = await runCli(['key', 'list', '--org', organizationId], database());
      expect(listed.code).toBe(0);
      const rows = listed.stdout
        .trimEnd()
        .split('\n')
        .map((line) => line.split('\t'));
      expect(rows[0]).toEqual(['id', 'name', 'access', 'created', 'lastUsedAt', 'expiresAt', 'revoked']);
      expect(rows).toHaveLength(2);
      const [id, name, access, createdAt, lastUsedAt, expiresAt, revokedAt] = exactly(at(rows, 1), 7, 'columns');
      expect([id, name, access, lastUsedAt, revokedAt]).toEqual([oldId, 'ci', 'read-write', '-', '-']);
      const lifetime = Date.parse(expiresAt) - Date.parse(createdAt);
      expect(Math.abs(lifetime - 7 * 24 * 60 * 60_000)).toBeLessThan(60_000);
      expect(listed.stdout).not.toContain(oldKey);
      expect(listed.stdout).not.toMatch(/[0-9a-f]{64}/);

      const rotated = await runCli(['key', 'rotate', oldId, '--overlap', '15m'], database());
      expect(rotated.code).toBe(0);
      expect(rotated.stdout).toMatch(/No REDIS_URL/);
      const newKey = rotated.lastLine;
      expect(newKey).toMatch(/^frg_\S+$/);
      expect(newKey).not.toBe(oldKey);
      const newId = captured(/The new read-write key's id: (\S+)/, rotated.stdout);

      const revoked = await runCli(['key', 'revoke', newId], database());
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toMatch(new RegExp(`Revoked API key ${newId} "ci"`));
      const again = await runCli(['key', 'revoke', newId], database());
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already revoked/);
      expect(again.stderr).not.toMatch(STACK_FRAME);

      const db = await openAfterwards();
      try {
        const { authenticate } = createAuthenticator(db);
        await expect(authenticate(newKey)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
        expect(await authenticate(oldKey)).toMatchObject({ organizationId, apiKeyId: oldId }); // within its overlap
        const old = await db.prisma.apiKey.findUniqueOrThrow({ where: { id: oldId } });
        expect(Math.abs(old.expiresAt!.getTime() - (Date.now() + 15 * 60_000))).toBeLessThan(5 * 60_000);
        const events = await db.prisma.auditEvent.findMany({ where: { organizationId }, orderBy: { sequence: 'asc' } });
        expect(events.map((event) => [event.action, event.subjectId])).toEqual([
          ['apiKey.created', oldId],
          ['apiKey.created', newId],
          ['apiKey.rotated', oldId],
          ['apiKey.revoked', newId],
        ]);
        expect(new Set(events.map((event) => event.actor)).size).toBe(1);
        expect(events[0]?.actor).toMatch(/^cli:\S+$/);
      } finally {
        await closeAfterwards(db);
      }
    },
    SEVERAL_RUNS_MS,
  );

  it('refuses an empty organization name with exit code 1', async () => {
    const result = await runCli(['org', 'create', '   '], database());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/name/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stdout).not.toMatch(UUID);
  });

  it('refuses an organization name with a control character (an ESC) with exit code 1, printing none and writing nothing', async () => {
    const result = await runCli(['org', 'create', 'Acme\u001b[2J'], database());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/name: must be 1 to 200 characters, none of them control characters/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stdout + result.stderr).not.toContain('\u001b');
    expect(result.stdout).not.toMatch(UUID);
    const db = await openAfterwards();
    try {
      expect(await db.prisma.organization.count({ where: { name: { contains: '\u001b' } } })).toBe(0);
    } finally {
      await closeAfterwards(db);
    }
  });
});

describe('cli usage and the embedded database lock', () => {
  let parent: string;
  let dataDir: string;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-cli-'));
    dataDir = join(parent, 'data');
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it.each([
    [[]],
    [['org']],
    [['org', 'create']],
    [['org', 'create', 'a', 'b']],
    [['org', 'create', 'Acme', '--read-only']],
    [['org', 'delete', 'x']],
    [['key', 'create']],
    [['key', 'create', '--org']],
    [['key', 'create', '--org', 'not-a-uuid']],
    [['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--admin']],
    [['key', 'create', 'extra', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11']],
    [['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--limit', '3']],
    [['audit', 'list']],
    [['audit', 'list', '--org', 'nope']],
    [['audit', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--limit', '0']],
    [['audit', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--limit', '1001']],
    [['audit', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--limit', '2.5']],
    [['audit', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--read-only']],
    [['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--expires-in', 'soon']],
    [['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--expires-in', '0s']],
    [['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--expires-in', '3651d']],
    [['key', 'list']],
    [['key', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--name', 'x']],
    [['key', 'revoke']],
    [['key', 'revoke', 'not-a-uuid']],
    [['key', 'revoke', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', 'extra']],
    [['key', 'revoke', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11']],
    [['key', 'rotate', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--overlap', '30']],
    [['key', 'rotate', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--overlap', '-5m']],
    [['key', 'rotate', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11', '--overlap', '31d']],
  ])('answers usage %j with the usage text on stderr and exit code 2', async (args) => {
    const result = await runCli(args, { dataDir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Usage:/);
    expect(result.stderr).toMatch(/org create <name>/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stdout).toBe('');
  });

  it('prints the usage on stdout for --help', async () => {
    const result = await runCli(['--help'], { dataDir });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/key create --org <organization id> \[--name <name>\] \[--read-only\] \[--expires-in <duration>\]/);
    expect(result.stdout).toMatch(/key rotate <key id> \[--overlap <duration>\]/);
  });

  it('fails with the busy message while another process holds the embedded database', async () => {
    const held = await openDatabase({ dataDir });
    try {
      const before = await held.prisma.organization.count();
      const result = await runCli(['org', 'create', 'Blocked'], { dataDir });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/in use by another process/);
      expect(result.stderr).not.toMatch(STACK_FRAME);
      expect(result.stdout).not.toMatch(UUID);
      // The held database is intact and saw no write.
      expect(await held.prisma.organization.count()).toBe(before);
    } finally {
      await held.close();
    }
    // Once released, the CLI gets in.
    const after = await runCli(['org', 'create', 'Unblocked'], { dataDir });
    expect(after.code).toBe(0);
    expect(after.lastLine).toMatch(UUID);
  });
});
