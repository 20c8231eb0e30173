// One factory for the database: embedded PostgreSQL (PGlite) when no DATABASE_URL is
// given, a real PostgreSQL through node-postgres otherwise. Either way the caller gets a
// migrated PrismaClient, a reader of rows on the same connections and a raw SQL session.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';
import { applyMigrations, type SqlSession } from './migrations.js';
import { boundPreparedStatements } from './prepared-statements.js';
import { ownerOnlyDirectory, ownerOnlyModes, restrictTree } from './owner-only-files.js';
import { lockDataDir } from './process-lock.js';
import { embeddedRowReader, postgresRowReader, type RowReader } from './row-reader.js';

export type DatabaseKind = 'embedded' | 'postgresql';

export interface Database {
  kind: DatabaseKind;
  prisma: PrismaClient;
  /** Statements without Prisma on the same connections (src/database/row-reader.ts). */
  reader: RowReader;
  sql: SqlSession;
  /** The migrations this opening applied (none when migrating is left to `npm run migrate`). */
  appliedMigrations: string[];
  /** Connection pool figures (PostgreSQL only: the embedded database has one connection). */
  poolStats?: () => { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL connection string; without it the embedded database is used. */
  databaseUrl?: string;
  /** Directory of the embedded database; omit for an in-memory one (tests). */
  dataDir?: string;
  /** Connections in the PostgreSQL pool. */
  poolSize?: number;
  /**
   * Apply pending migrations while opening (the default). Off, a deploy step applies them
   * (`npm run migrate`) and /readyz says 503 until it has.
   */
  migrate?: boolean;
  /**
   * Called once per SQL statement Prisma sends, with its parameters as a JSON array
   * (statement counting in tests, query plans in bench/query-plans.ts).
   */
  onQuery?: (sql: string, params: string) => void;
}

export class EmbeddedDatabaseBusyError extends Error {
  constructor(dataDir: string) {
    super(
      `The embedded database in ${dataDir} is in use by another process (the server, or another CLI). ` +
        'Stop that process first, or set DATABASE_URL to use a PostgreSQL server that several processes can share.',
    );
    this.name = 'EmbeddedDatabaseBusyError';
  }
}

export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openEmbedded(options);
}

function createPrisma(adapter: ConstructorParameters<typeof PrismaClient>[0]['adapter'] & object, options: DatabaseOptions) {
  const prisma = new PrismaClient({
    adapter,
    log: options.onQuery ? [{ emit: 'event', level: 'query' }] : [],
  });
  if (options.onQuery) {
    const onQuery = options.onQuery;
    (prisma as unknown as { $on(event: 'query', cb: (e: { query: string; params: string }) => void): void }).$on('query', (event) =>
      onQuery(event.query, event.params),
    );
  }
  return prisma;
}

async function openPostgres(databaseUrl: string, options: DatabaseOptions): Promise<Database> {
  // A request must fail fast while the database is away, not queue for a connection.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, connectionTimeoutMillis: 3_000 });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Before any statement: the named ones it keeps prepared are bounded from the first.
  pool.on('connect', (client) => boundPreparedStatements(client));
  const sql: SqlSession = {
    async exec(text) {
      await pool.query(text);
    },
    async query(text, params) {
      return (await pool.query(text, params)).rows;
    },
  };
  let appliedMigrations: string[] = [];
  if (options.migrate ?? true) {
    const migrationClient = await pool.connect();
    try {
      appliedMigrations = await applyMigrations({
        exec: async (text) => void (await migrationClient.query(text)),
        query: async (text, params) => (await migrationClient.query(text, params)).rows,
      });
    } finally {
      migrationClient.release();
    }
  }
  // Named statements let each connection keep its prepared plans: PostgreSQL spends more
  // time planning Prisma's page query than running it. Names come from the SQL text; a
  // connection keeps the ones it used last, up to a bound (src/database/prepared-statements.ts).
  const prisma = createPrisma(
    new PrismaPg(pool, { statementNameGenerator: (query) => `s${createHash('sha1').update(query.sql).digest('base64url')}` }),
    options,
  );
  return {
    kind: 'postgresql',
    prisma,
    reader: postgresRowReader(pool, options.onQuery),
    sql,
    appliedMigrations,
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openEmbedded(options: DatabaseOptions): Promise<Database> {
  // Loaded only here: the embedded database's WASM costs ~40 MB of memory that a
  // service on PostgreSQL should not carry.
  const [{ PGlite }, { NodeFS }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/nodefs'),
    import('pglite-prisma-adapter'),
  ]);
  let releaseLock: (() => Promise<void>) | undefined;
  let pglite: InstanceType<typeof PGlite>;
  if (options.dataDir) {
    const dataDir = resolve(options.dataDir);
    // Owner-only (src/database/owner-only-files.ts): the directory, what an older version left in it, and what PGlite writes.
    ownerOnlyDirectory(dataDir);
    releaseLock = await lockDataDir(dataDir);
    if (!releaseLock) throw new EmbeddedDatabaseBusyError(dataDir);
    restrictTree(dataDir);
    class OwnerOnlyNodeFS extends NodeFS {
      override async init(...args: Parameters<InstanceType<typeof NodeFS>['init']>) {
        const { emscriptenOpts } = await super.init(...args);
        return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), ownerOnlyModes] } };
      }
    }
    pglite = new PGlite({ dataDir, fs: new OwnerOnlyNodeFS(dataDir) });
  } else {
    pglite = new PGlite();
  }
  await pglite.waitReady;
  const sql: SqlSession = {
    async exec(text) {
      await pglite.exec(text);
    },
    async query<Row>(text: string, params?: unknown[]) {
      return (await pglite.query<Row>(text, params)).rows;
    },
  };
  const appliedMigrations = (options.migrate ?? true) ? await applyMigrations(sql) : [];
  const prisma = createPrisma(new PrismaPGlite(pglite), options);
  return {
    kind: 'embedded',
    prisma,
    reader: embeddedRowReader(pglite, options.onQuery),
    sql,
    appliedMigrations,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
      await releaseLock?.();
    },
  };
}
