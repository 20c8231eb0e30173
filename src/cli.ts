// Administration from the command line: organizations, their API keys and the audit log,
// on whichever database the environment selects (DATABASE_URL, else the embedded one in
// DATA_DIR). Run `npm run cli -- --help` for the commands.
//
// A new id or key is printed alone on the last line of standard output, so scripts can
// take it with `| tail -n 1`. Exit codes: 0 done, 1 failed, 2 wrong usage (nothing done).
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import ms from 'ms';
import { readConfig } from './config.js';
import { type Database, openDatabase } from './database/client.js';
import { type ApiKeySummary, issueApiKey, listApiKeys, revokeApiKey, rotateApiKey } from './domain/api-keys.js';
import { cliActor, listAuditEvents, MAX_AUDIT_LIST_LIMIT } from './domain/audit-log.js';
import { createOrganization, DEFAULT_KEY_CACHE_TTL_MS } from './domain/organizations.js';
import { prepareAnnouncer, type RevocationAnnouncer } from './events/api-key-revocations.js';

const USAGE = `Usage:
  npm run cli -- org create <name>
      Creates an organization and prints its id on the last line.
  npm run cli -- key create --org <organization id> [--name <name>] [--read-only] [--expires-in <duration>]
      Creates an API key for the organization (write access unless --read-only),
      refused after --expires-in if given, and prints the key on the last line. The key
      is shown once: only its hash is stored.
  npm run cli -- key list --org <organization id>
      Lists the organization's keys, tab-separated: id, name, access, created,
      lastUsedAt (to the minute), expiresAt, revoked. Never the key or its hash.
  npm run cli -- key revoke <key id>
      Refuses the key from now on.
  npm run cli -- key rotate <key id> [--overlap <duration>] [--expires-in <duration>]
      Creates a new key with the same organization, access and name, and prints it on
      the last line; the old key keeps working for --overlap (default 0: it stops now).
      The new key does not expire unless --expires-in is given.
  npm run cli -- audit list --org <organization id> [--limit <n>]
      Prints the organization's audit log (key and webhook-endpoint changes), newest
      first, one tab-separated event a line: when, who, what, subject, details.
      At most n events (default 50, at most ${MAX_AUDIT_LIST_LIMIT}).

Durations are a number and a unit: 90s, 15m, 24h, 7d.

The database is PostgreSQL when DATABASE_URL is set, else the embedded database in
DATA_DIR (default ./.data), which must not be in use by a running server. With
REDIS_URL set, revoking or rotating a key tells the running instances at once.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY_MS = 24 * 60 * 60_000;
const MAX_KEY_LIFETIME_MS = 3650 * DAY_MS;
const MAX_OVERLAP_MS = 30 * DAY_MS;

class UsageError extends Error {}

type Command =
  | { kind: 'help' }
  | { kind: 'org create'; name: string }
  | { kind: 'key create'; organizationId: string; name?: string; readOnly: boolean; expiresInMs?: number }
  | { kind: 'key list'; organizationId: string }
  | { kind: 'key revoke'; keyId: string }
  | { kind: 'key rotate'; keyId: string; overlapMs: number; expiresInMs?: number }
  | { kind: 'audit list'; organizationId: string; limit: number };

type Values = Record<string, string | boolean | undefined>;

/** Each command names the options it takes; any other one given is a usage error. */
function onlyOptions(command: string, values: Values, allowed: string[]) {
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && name !== 'help' && !allowed.includes(name)) {
      throw new UsageError(`${command} does not take --${name}`);
    }
  }
}

function organizationOption(command: string, values: Values): string {
  const org = values.org;
  if (typeof org !== 'string') throw new UsageError(`${command} needs --org <organization id>`);
  if (!UUID.test(org)) throw new UsageError(`--org must be an organization id (a UUID), got "${org}"`);
  return org.toLowerCase();
}

function keyIdArgument(command: string, rest: string[]): string {
  const [keyId, extra] = rest;
  if (keyId === undefined) throw new UsageError(`${command} needs the key's id (see key list)`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (!UUID.test(keyId)) throw new UsageError(`the key id must be a UUID (see key list), got "${keyId}"`);
  return keyId.toLowerCase();
}

/**
 * A duration such as 90s, 15m, 24h or 7d (ms reads it), in milliseconds. A bare number
 * is refused: ms would take it as milliseconds, which nobody typing `--overlap 30` means.
 */
function durationOption(option: string, text: string, { min, max }: { min: number; max: number }): number {
  const trimmed = text.trim();
  // ms's types take only the forms it knows; the pattern has checked the shape, ms judges the unit.
  const value = /^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed) || trimmed === '0' ? ms(trimmed as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${option} must be a duration from ${ms(min, { long: true })} to ${ms(max, { long: true })} such as 90s, 15m, 24h or 7d, got "${text}"`,
    );
  }
  return value;
}

function noExtraArguments(rest: string[]) {
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
}

/** node:util's parser, its complaints turned into usage errors. */
function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        org: { type: 'string' },
        name: { type: 'string' },
        'read-only': { type: 'boolean' },
        'expires-in': { type: 'string' },
        overlap: { type: 'string' },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function parseCommand(argv: string[]): Command {
  const { values, positionals } = parseOptions(argv);
  if (values.help || positionals[0] === 'help') return { kind: 'help' };

  const [noun, verb, ...rest] = positionals;
  if (noun === undefined) throw new UsageError('a command is required');
  const command = [noun, verb].filter(Boolean).join(' ');
  const expiresIn = () =>
    values['expires-in'] === undefined ? undefined : durationOption('expires-in', values['expires-in'], { min: 1_000, max: MAX_KEY_LIFETIME_MS });
  switch (command) {
    case 'org create': {
      onlyOptions(command, values, []);
      const [name, ...extra] = rest;
      if (name === undefined || extra.length) throw new UsageError('org create takes exactly one name (quote a name with spaces)');
      return { kind: 'org create', name };
    }
    case 'key create':
      noExtraArguments(rest);
      onlyOptions(command, values, ['org', 'name', 'read-only', 'expires-in']);
      return {
        kind: 'key create',
        organizationId: organizationOption(command, values),
        name: values.name,
        readOnly: values['read-only'] ?? false,
        expiresInMs: expiresIn(),
      };
    case 'key list':
      noExtraArguments(rest);
      onlyOptions(command, values, ['org']);
      return { kind: 'key list', organizationId: organizationOption(command, values) };
    case 'key revoke':
      onlyOptions(command, values, []);
      return { kind: 'key revoke', keyId: keyIdArgument(command, rest) };
    case 'key rotate':
      onlyOptions(command, values, ['overlap', 'expires-in']);
      return {
        kind: 'key rotate',
        keyId: keyIdArgument(command, rest),
        overlapMs: values.overlap === undefined ? 0 : durationOption('overlap', values.overlap, { min: 0, max: MAX_OVERLAP_MS }),
        expiresInMs: expiresIn(),
      };
    case 'audit list': {
      noExtraArguments(rest);
      onlyOptions(command, values, ['org', 'limit']);
      const organizationId = organizationOption(command, values);
      let limit = 50;
      if (values.limit !== undefined) {
        limit = /^\d{1,9}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
        if (!(limit >= 1 && limit <= MAX_AUDIT_LIST_LIMIT)) {
          throw new UsageError(`--limit must be a whole number from 1 to ${MAX_AUDIT_LIST_LIMIT}, got "${values.limit}"`);
        }
      }
      return { kind: 'audit list', organizationId, limit };
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** Who runs the CLI, for the audit log: the operating-system user. */
function operator(): string {
  try {
    return cliActor(userInfo().username);
  } catch {
    // A container user with no passwd entry has no name, only a uid (and $USER, which anyone
    // can set, is not something an audit log should take as the actor's name).
    return cliActor(`uid:${process.getuid?.() ?? 'unknown'}`);
  }
}

const inFuture = (milliseconds: number | undefined) => (milliseconds === undefined ? undefined : new Date(Date.now() + milliseconds));
const accessName = (access: string) => (access === 'read' ? 'read-only' : 'read-write');
const when = (date: Date | null) => date?.toISOString() ?? '-';

function keyRow(key: ApiKeySummary): string {
  return [key.id, key.name ?? '-', accessName(key.access), when(key.createdAt), when(key.lastUsedAt), when(key.expiresAt), when(key.revokedAt)].join(
    '\t',
  );
}

/**
 * Tells the running instances to forget the keys (they remember valid ones for a while);
 * returns what the operator should know about when the change takes effect.
 */
async function tellInstances(announcer: RevocationAnnouncer | undefined, keyIds: string[]): Promise<string> {
  const fallback = `running instances that remember the key refuse it once they forget it: within their API_KEY_CACHE_TTL_MS (${ms(DEFAULT_KEY_CACHE_TTL_MS, { long: true })} by default)`;
  if (!announcer) return `No REDIS_URL: ${fallback}.`;
  try {
    const listeners = await announcer.announce(keyIds);
    return `Told the running instances through Redis (${listeners} listening): they forget it within a second.`;
  } catch (error) {
    process.stderr.write(`warning: could not tell the running instances through Redis (${(error as Error).message})\n`);
    return `The change is made, but ${fallback}.`;
  }
}

async function run(command: Exclude<Command, { kind: 'help' }>, db: Database, announcer?: RevocationAnnouncer): Promise<string[]> {
  switch (command.kind) {
    case 'org create': {
      const organization = await createOrganization(db.prisma, command.name);
      return [`Created organization "${organization.name}". Its id:`, organization.id];
    }
    case 'key create': {
      const { key, apiKey } = await issueApiKey(db.prisma, {
        organizationId: command.organizationId,
        access: command.readOnly ? 'read' : 'write',
        name: command.name,
        expiresAt: inFuture(command.expiresInMs),
        actor: operator(),
      });
      return [
        `Created a ${accessName(apiKey.access)} API key${apiKey.name ? ` "${apiKey.name}"` : ''} for organization ${apiKey.organizationId}` +
          `${apiKey.expiresAt ? `, refused from ${apiKey.expiresAt.toISOString()}` : ''}.`,
        `Its id (for key revoke and key rotate): ${apiKey.id}`,
        'Store this key now: it is shown once and stored only as a hash.',
        key,
      ];
    }
    case 'key list': {
      const keys = await listApiKeys(db.prisma, command.organizationId);
      if (keys.length === 0) return [`No API keys for organization ${command.organizationId}.`];
      return [['id', 'name', 'access', 'created', 'lastUsedAt', 'expiresAt', 'revoked'].join('\t'), ...keys.map(keyRow)];
    }
    case 'key revoke': {
      const revoked = await revokeApiKey(db.prisma, command.keyId, operator());
      const told = await tellInstances(announcer, [revoked.id]);
      return [`Revoked API key ${revoked.id}${revoked.name ? ` "${revoked.name}"` : ''} at ${when(revoked.revokedAt)}.`, told];
    }
    case 'key rotate': {
      const { key, apiKey, replaced } = await rotateApiKey(db.prisma, command.keyId, {
        overlapMs: command.overlapMs,
        expiresAt: inFuture(command.expiresInMs),
        actor: operator(),
      });
      // Told even with an overlap: instances remember the old key without its new expiry.
      const told = await tellInstances(announcer, [replaced.id]);
      return [
        `Rotated API key ${replaced.id}: it is refused from ${when(replaced.expiresAt)}.`,
        told,
        `The new ${accessName(apiKey.access)} key's id: ${apiKey.id}${apiKey.expiresAt ? `, refused from ${apiKey.expiresAt.toISOString()}` : ''}`,
        'Store this key now: it is shown once and stored only as a hash.',
        key,
      ];
    }
    case 'audit list': {
      const events = await listAuditEvents(db.prisma, command.organizationId, command.limit);
      if (events.length === 0) return [`No audit events for organization ${command.organizationId}.`];
      return [
        ['occurredAt', 'actor', 'action', 'subject', 'details'].join('\t'),
        ...events.map((event) =>
          [event.occurredAt.toISOString(), event.actor, event.action, `${event.subjectType}:${event.subjectId}`, JSON.stringify(event.details)].join(
            '\t',
          ),
        ),
      ];
    }
  }
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let db: Database | undefined;
  let announcer: RevocationAnnouncer | undefined;
  try {
    const config = readConfig();
    // Revoking or rotating tells the running instances right after the commit: connect meanwhile.
    const revokes = command.kind === 'key revoke' || command.kind === 'key rotate';
    if (revokes && config.redisUrl) announcer = prepareAnnouncer(config.redisUrl);
    db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    const lines = await run(command, db, announcer);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    // Domain errors (unknown organization, bad name), a busy embedded database or an
    // unreachable server: the message says it all, a stack trace helps no administrator.
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    announcer?.close();
    await db?.close().catch((error: unknown) => {
      process.stderr.write(`warning: closing the database failed: ${(error as Error)?.message ?? error}\n`);
    });
  }
}

process.exitCode = await main(process.argv.slice(2));
