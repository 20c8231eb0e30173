// Administration from the command line: organizations and their API keys, on whichever
// database the environment selects (DATABASE_URL, else the embedded one in DATA_DIR).
//
//   npm run cli -- org create <name>
//   npm run cli -- key create --org <organization id> [--read-only]
//   npm run cli -- audit list --org <organization id> [--limit <n>]
//
// The new id or key is printed alone on the last line of standard output, so scripts can
// take it with `| tail -n 1`. Exit codes: 0 done, 1 failed, 2 wrong usage.
import { parseArgs } from 'node:util';
import { readConfig } from './config.js';
import { type Database, openDatabase } from './database/client.js';
import { listAuditEvents, MAX_AUDIT_LIST_LIMIT } from './domain/audit-log.js';
import { createApiKey, createOrganization } from './domain/organizations.js';

const USAGE = `Usage:
  npm run cli -- org create <name>
      Creates an organization and prints its id on the last line.
  npm run cli -- key create --org <organization id> [--read-only]
      Creates an API key for the organization (write access unless --read-only) and
      prints the key on the last line. The key is shown once: only its hash is stored.
  npm run cli -- audit list --org <organization id> [--limit <n>]
      Prints the organization's audit log (key and webhook-endpoint changes), newest
      first, one tab-separated event a line: when, who, what, subject, details.
      At most n events (default 50, at most ${MAX_AUDIT_LIST_LIMIT}).

The database is PostgreSQL when DATABASE_URL is set, else the embedded database in
DATA_DIR (default ./.data), which must not be in use by a running server.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class UsageError extends Error {}

type Command =
  | { kind: 'help' }
  | { kind: 'org create'; name: string }
  | { kind: 'key create'; organizationId: string; readOnly: boolean }
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

/** node:util's parser, its complaints turned into usage errors. */
function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        org: { type: 'string' },
        'read-only': { type: 'boolean' },
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
  if (noun === 'org' && verb === 'create') {
    if (Object.entries(values).some(([name, value]) => name !== 'help' && value !== undefined)) {
      throw new UsageError('org create takes no options');
    }
    if (rest.length !== 1) throw new UsageError('org create takes exactly one name (quote a name with spaces)');
    return { kind: 'org create', name: rest[0] };
  }
  if (noun === 'key' && verb === 'create') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    onlyOptions('key create', values, ['org', 'read-only']);
    return { kind: 'key create', organizationId: organizationOption('key create', values), readOnly: values['read-only'] ?? false };
  }
  if (noun === 'audit' && verb === 'list') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    onlyOptions('audit list', values, ['org', 'limit']);
    const organizationId = organizationOption('audit list', values);
    let limit = 50;
    if (values.limit !== undefined) {
      limit = /^\d{1,9}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
      if (!(limit >= 1 && limit <= MAX_AUDIT_LIST_LIMIT)) {
        throw new UsageError(`--limit must be a whole number from 1 to ${MAX_AUDIT_LIST_LIMIT}, got "${values.limit}"`);
      }
    }
    return { kind: 'audit list', organizationId, limit };
  }
  throw new UsageError(`unknown command "${[noun, verb].filter(Boolean).join(' ')}"`);
}

async function run(command: Exclude<Command, { kind: 'help' }>, db: Database): Promise<string[]> {
  switch (command.kind) {
    case 'org create': {
      const organization = await createOrganization(db.prisma, command.name);
      return [`Created organization "${organization.name}". Its id:`, organization.id];
    }
    case 'key create': {
      const access = command.readOnly ? 'read' : 'write';
      const key = await createApiKey(db.prisma, command.organizationId, access);
      return [
        `Created a ${command.readOnly ? 'read-only' : 'read-write'} API key for organization ${command.organizationId}.`,
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
  try {
    const config = readConfig();
    db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    const lines = await run(command, db);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (error) {
    // Domain errors (unknown organization, bad name), a busy embedded database or an
    // unreachable server: the message says it all, a stack trace helps no administrator.
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await db?.close().catch((error: unknown) => {
      process.stderr.write(`warning: closing the database failed: ${(error as Error)?.message ?? error}\n`);
    });
  }
}

process.exitCode = await main(process.argv.slice(2));
