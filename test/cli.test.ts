// The administration CLI, run as its own process the way an operator runs it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/database/client.ts';
import { cliActor, recordAuditEvent } from '../src/domain/audit-log.ts';
import { authenticate } from '../src/domain/organizations.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from './support/database.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const STACK_FRAME = /^\s+at /m;

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
    const guard = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(guard);
      const lines = stdout.trimEnd().split('\n');
      resolve({ code, stdout, stderr, lastLine: lines[lines.length - 1] });
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

  it('creates an organization and keys that authenticate', async () => {
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
      const writer = await authenticate(db.prisma, writeKey.lastLine);
      expect(writer.organizationId).toBe(organizationId);
      expect(writer.access).toBe('write');
      const reader = await authenticate(db.prisma, readKey.lastLine);
      expect(reader.organizationId).toBe(organizationId);
      expect(reader.access).toBe('read');
      // Only hashes are stored.
      const hashes = (await db.prisma.apiKey.findMany({ where: { organizationId } })).map((key) => key.hash);
      expect(hashes).toHaveLength(2);
      expect(hashes).not.toContain(writeKey.lastLine);
      await expect(authenticate(db.prisma, `${writeKey.lastLine}x`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await closeAfterwards(db);
    }
  });

  it('reports an unknown organization on stderr with exit code 1 and no stack trace', async () => {
    const result = await runCli(['key', 'create', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11'], database());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/organization 6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11 not found/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stdout).not.toMatch(/frg_/);
  });

  it('lists the audit log newest first, at most --limit events, and says when there is none', async () => {
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
    expect(new Date(rows[1][0]).toISOString()).toBe(rows[1][0]);

    const one = await runCli(['audit', 'list', '--org', organizationId, '--limit', '1'], database());
    expect(one.stdout.trimEnd().split('\n')).toHaveLength(2);
    expect(one.lastLine).toMatch(/apiKey\.revoked/);

    const unknown = await runCli(['audit', 'list', '--org', '6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11'], database());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/organization 6f1c2f4e-8a57-4d0b-9a3e-2f0d6f1b7c11 not found/);
  });

  it('refuses an empty organization name with exit code 1', async () => {
    const result = await runCli(['org', 'create', '   '], database());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/name/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(result.stdout).not.toMatch(UUID);
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
    expect(result.stdout).toMatch(/key create --org <organization id> \[--read-only\]/);
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
