// Administration from the command line: organizations and their API keys, on whichever
// database the environment selects (DATABASE_URL, else the embedded one in DATA_DIR).
//
//   npm run cli -- org create <name>
//   npm run cli -- key create --org <organization id> [--read-only]
//
// The new id or key is printed alone on the last line of standard output, so scripts can
// take it with `| tail -n 1`. Exit codes: 0 done, 1 failed, 2 wrong usage.
import { parseArgs } from 'node:util';
import { readConfig } from './config.js';
import { type Database, openDatabase } from './database/client.js';
import { createApiKey, createOrganization } from './domain/organizations.js';

const USAGE = `Usage:
  npm run cli -- org create <name>
      Creates an organization and prints its id on the last line.
  npm run cli -- key create --org <organization id> [--read-only]
      Creates an API key for the organization (write access unless --read-only) and
      prints the key on the last line. The key is shown once: only its hash is stored.

The database is PostgreSQL when DATABASE_URL is set, else the embedded database in
DATA_DIR (default ./.data), which must not be in use by a running server.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class UsageError extends Error {}

type Command =
  | { kind: 'help' }
  | { kind: 'org create'; name: string }
  | { kind: 'key create'; organizationId: string; readOnly: boolean };

function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        org: { type: 'string' },
        'read-only': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') return { kind: 'help' };

  const [noun, verb, ...rest] = positionals;
  if (noun === undefined) throw new UsageError('a command is required');
  if (noun === 'org' && verb === 'create') {
    if (values.org !== undefined || values['read-only'] !== undefined) {
      throw new UsageError('org create takes no options');
    }
    if (rest.length !== 1) throw new UsageError('org create takes exactly one name (quote a name with spaces)');
    return { kind: 'org create', name: rest[0] };
  }
  if (noun === 'key' && verb === 'create') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (values.org === undefined) throw new UsageError('key create needs --org <organization id>');
    if (!UUID.test(values.org)) throw new UsageError(`--org must be an organization id (a UUID), got "${values.org}"`);
    return { kind: 'key create', organizationId: values.org.toLowerCase(), readOnly: values['read-only'] ?? false };
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
