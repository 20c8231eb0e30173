// node --import tsx bench/bulk-load.ts [--sizes 50000,100000,200000] [--variants none,statement,row]
// Times one INSERT ... SELECT of N runs into one organization with each way of keeping
// FlowRunCount: the statement-level triggers of the migrations ("statement"), the
// row-level trigger they replaced ("row", recreated here from its migration
// 20261125131142_flow_run_counts) and no trigger at all ("none"). Sizes and variants
// alternate, so a slower stretch of a shared machine does not fall on one variant only.
// After each insert, in the same transaction, EXPLAIN (ANALYZE, BUFFERS) of reading one
// count row shows how many buffers a lookup of that row now visits: the versions the
// insert left behind. The counts are checked against count(*) after every insert.
// DATABASE_URL selects a PostgreSQL server (a scratch database is created on it and
// dropped afterwards); without it, the embedded database. Prints a Markdown table.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createScratchDatabase } from './scratch-database.js';
import { openDatabase } from '../src/database/client.js';
import type { SqlSession } from '../src/database/migrations.js';
import { createOrganization } from '../src/domain/organizations.js';

/** The statement's one row (the benchmark's own statements always return one). */
function firstRow<T>(rows: T[]): T {
  const [row] = rows;
  if (row === undefined) throw new Error('the statement returned no row');
  return row;
}

const VARIANTS = ['none', 'statement', 'row'] as const;
type Variant = (typeof VARIANTS)[number];

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '50000,100000,200000' },
    variants: { type: 'string', default: VARIANTS.join(',') },
  },
});
const sizes = flags.sizes!.split(',').map((size) => {
  const parsed = Number(size);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--sizes: expected whole numbers, got ${size}`);
  return parsed;
});
const variants = flags.variants!.split(',').map((variant) => {
  if (!VARIANTS.includes(variant as Variant)) throw new Error(`--variants: unknown ${variant} (known: ${VARIANTS.join(', ')})`);
  return variant as Variant;
});

// The row-level trigger as 20261125131142_flow_run_counts created it, read from that
// migration (migrations never change) and renamed, so that it can sit beside today's.
const ROW_TRIGGER = (() => {
  const text = readFileSync(new URL('../prisma/migrations/20261125131142_flow_run_counts/migration.sql', import.meta.url), 'utf8');
  const start = text.indexOf('CREATE FUNCTION "flow_run_count"()');
  const last = 'FOR EACH ROW EXECUTE FUNCTION "flow_run_count"();';
  const end = text.indexOf(last);
  if (start < 0 || end < 0) throw new Error('the row-level count trigger is not where the first counts migration put it');
  return text
    .slice(start, end + last.length)
    .replaceAll('"flow_run_count"', '"bench_flow_run_count_row"')
    .replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
})();

interface Result {
  variant: Variant;
  runs: number;
  seconds: number;
  lookupBuffers: number | null;
  lookupMs: number | null;
}

async function main() {
  const serverUrl = process.env.DATABASE_URL;
  const scratch = `flow_run_bulk_${randomUUID().replace(/-/g, '')}`;
  const scratchDatabase = serverUrl ? await createScratchDatabase(serverUrl, scratch) : undefined;
  const databaseUrl = scratchDatabase?.url;
  const db = await openDatabase({ databaseUrl, poolSize: 2 });
  // One session for BEGIN … COMMIT: a client of its own on PostgreSQL, the embedded
  // database's only connection otherwise.
  let client: pg.Client | undefined;
  let session: SqlSession = db.sql;
  if (databaseUrl) {
    const connected = new pg.Client({ connectionString: databaseUrl });
    await connected.connect();
    client = connected;
    session = { exec: async (text) => void (await connected.query(text)), query: async (text, params) => (await connected.query(text, params)).rows };
  }
  try {
    const organization = await createOrganization(db.prisma, 'Bulk load');
    const { id: flowId } = firstRow(
      await session.query<{ id: string }>(
        `INSERT INTO "Flow" ("id", "organizationId", "name", "sessionTimeout", "updatedAt") VALUES (gen_random_uuid(), $1, 'Bulk', 60, now()) RETURNING "id"`,
        [organization.id],
      ),
    );
    const { id: threadId } = firstRow(
      await session.query<{ id: string }>(
        `INSERT INTO "MessageThread" ("id", "organizationId", "channel", "identifier", "updatedAt") VALUES (gen_random_uuid(), $1, 'sms', '31600000000', now()) RETURNING "id"`,
        [organization.id],
      ),
    );
    // The migrated statement-level triggers, to put back after the others.
    const statementTriggers = await session.query<{ definition: string }>(
      `SELECT pg_get_triggerdef(oid) AS definition FROM pg_trigger WHERE tgrelid = '"FlowRun"'::regclass AND NOT tgisinternal AND tgname LIKE 'flow_run_count%'`,
    );
    if (statementTriggers.length !== 2) throw new Error(`expected the two flow_run_count triggers, found ${statementTriggers.length}`);

    async function use(variant: Variant) {
      await session.exec('DROP TRIGGER IF EXISTS "flow_run_count_insert" ON "FlowRun"');
      await session.exec('DROP TRIGGER IF EXISTS "flow_run_count_delete" ON "FlowRun"');
      await session.exec('DROP TRIGGER IF EXISTS "bench_flow_run_count_row" ON "FlowRun"');
      if (variant === 'statement') for (const { definition } of statementTriggers) await session.exec(definition);
      if (variant === 'row') await session.exec(ROW_TRIGGER);
    }

    const results: Result[] = [];
    for (const runs of sizes) {
      for (const variant of variants) {
        await use(variant);
        // TRUNCATE fires no delete trigger: every insert starts from no runs and no counts.
        await session.exec('TRUNCATE "FlowRun", "FlowRunCount" CASCADE');
        await session.exec('VACUUM ANALYZE "FlowRun"');
        await session.exec('VACUUM ANALYZE "FlowRunCount"');
        if (databaseUrl) await session.exec('CHECKPOINT').catch(() => {});
        await session.exec('BEGIN');
        const started = performance.now();
        await session.query(
          `INSERT INTO "FlowRun" ("id", "organizationId", "flowId", "messageThreadId", "status", "cost", "state")
           SELECT gen_random_uuid(), $1, $2, $3, 'finished', i % 60, jsonb_build_object('step', 'intro', 'score', i % 100)
           FROM generate_series(1, $4::int) AS i`,
          [organization.id, flowId, threadId, runs],
        );
        const seconds = (performance.now() - started) / 1000;
        const plan = await session.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS) SELECT "count" FROM "FlowRunCount" WHERE "organizationId" = '${organization.id}' AND "shard" = 0`,
        );
        await session.exec('COMMIT');
        const text = plan.map((row) => row['QUERY PLAN']).join('\n');
        const buffers = /Buffers: shared hit=(\d+)/.exec(text);
        const lookupMs = /Execution Time: ([\d.]+) ms/.exec(text);
        const { counted, actual } = firstRow(
          await session.query<{ counted: string | null; actual: string }>(
            `SELECT (SELECT sum("count") FROM "FlowRunCount" WHERE "organizationId" = $1)::text AS counted, (SELECT count(*) FROM "FlowRun")::text AS actual`,
            [organization.id],
          ),
        );
        if (Number(actual) !== runs) throw new Error(`${variant}: ${actual} runs after inserting ${runs}`);
        if (variant !== 'none' && Number(counted) !== runs) throw new Error(`${variant}: counted ${counted}, inserted ${runs}`);
        const result: Result = {
          variant,
          runs,
          seconds,
          lookupBuffers: variant === 'none' ? null : buffers ? Number(buffers[1]) : 0,
          lookupMs: variant === 'none' ? null : lookupMs ? Number(lookupMs[1]) : null,
        };
        results.push(result);
        console.error(
          `${variant} ${runs}: ${seconds.toFixed(2)} s, lookup ${result.lookupBuffers} buffers ${result.lookupMs} ms, load ${(loadavg()[0] ?? 0).toFixed(2)}`,
        );
      }
    }

    const kind = databaseUrl ? 'PostgreSQL' : 'embedded (PGlite)';
    const { version } = firstRow(await session.query<{ version: string }>('SELECT version()'));
    console.log(
      `${kind}: ${version.split(',')[0]}; ${cpus().length} cores, load ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')} at the end`,
    );
    console.log('');
    console.log(
      `| runs in one INSERT | ${variants.map((variant) => `${variant} (s)`).join(' | ')} | ${variants
        .filter((v) => v !== 'none')
        .map((v) => `${v}: count row lookup afterwards (buffers, ms)`)
        .join(' | ')} |`,
    );
    console.log(
      `|---:|${variants.map(() => '---:').join('|')}|${variants
        .filter((v) => v !== 'none')
        .map(() => '---:')
        .join('|')}|`,
    );
    for (const runs of sizes) {
      const of = (variant: Variant) => results.find((result) => result.runs === runs && result.variant === variant)!;
      const times = variants.map((variant) => of(variant).seconds.toFixed(2));
      const lookups = variants.filter((v) => v !== 'none').map((variant) => `${of(variant).lookupBuffers}, ${of(variant).lookupMs?.toFixed(2)}`);
      console.log(`| ${runs.toLocaleString('en')} | ${times.join(' | ')} | ${lookups.join(' | ')} |`);
    }
  } finally {
    await client?.end();
    await db.close();
    await scratchDatabase?.drop();
  }
}

await main();
