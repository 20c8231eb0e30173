// The plans of the lookup and polling filters on the benchmark's dataset (50,000 runs):
// seeds a new database on the PostgreSQL server of PLANS_SERVER_URL, sends each filter's
// request through the app (the REST or GraphQL surface, as a client would), records the
// SQL Prisma sends with its parameters, and prints EXPLAIN (ANALYZE, BUFFERS) of each
// statement — with the indexes of the polling_and_lookup_indexes migration, and without
// them (dropped inside a transaction that is rolled back). Timings are the median of
// five executions after one warm-up. The output is Markdown for docs/QUERY-PLANS.md.
//
//   PLANS_SERVER_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/query-plans.ts > plans.md
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openDatabase } from '../src/database/client.js';
import { createApp } from '../src/http/app.js';
import { FULL, seedDataset } from './dataset.js';

const serverUrl = process.env.PLANS_SERVER_URL;
if (!serverUrl) {
  console.error('set PLANS_SERVER_URL to a PostgreSQL server (a scratch database is created there and dropped)');
  process.exit(2);
}

const NEW_INDEXES = ['"Flow_organizationId_name_idx"', '"FlowRun_organizationId_updatedAt_id_idx"'];
const RUNS = 5;

const name = `plans_${randomUUID().replace(/-/g, '')}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;

const captured: { sql: string; params: unknown[] }[] = [];
let capturing = false;
const db = await openDatabase({
  databaseUrl: url.toString(),
  onQuery: (sql, params) => {
    if (capturing) captured.push({ sql, params: JSON.parse(params) });
  },
});
const client = new pg.Client({ connectionString: url.toString() });
try {
  const seeded = await seedDataset(db, FULL);
  await client.connect();
  await client.query('VACUUM ANALYZE');
  const app = createApp({ db });

  const { rows: threadRows } = await client.query<{ identifier: string }>(
    `SELECT identifier FROM "MessageThread" WHERE channel = 'whatsapp' ORDER BY identifier OFFSET 100 LIMIT 1`,
  );
  const { rows: flowRows } = await client.query<{ name: string }>(`SELECT name FROM "Flow" ORDER BY name OFFSET 10 LIMIT 1`);
  const { rows: timeRows } = await client.query<{ recent: Date; count: string }>(
    `SELECT max("updatedAt") - interval '1 hour' AS recent, count(*) FILTER (WHERE "updatedAt" >= (SELECT max("updatedAt") - interval '1 hour' FROM "FlowRun")) AS count FROM "FlowRun"`,
  );
  const recent = timeRows[0].recent.toISOString();
  const everything = '2000-01-01T00:00:00Z';

  const rest = (path: string) => async () => {
    const response = await app.fetch(new Request(`http://plans${path}`, { headers: { Authorization: seeded.apiKey } }));
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { meta: { total: number } };
  };
  const graphql = (query: string, variables: Record<string, unknown>) => async () => {
    const response = await app.fetch(
      new Request('http://plans/graphql', {
        method: 'POST',
        headers: { Authorization: seeded.apiKey, 'Content-Type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      }),
    );
    const body = (await response.json()) as { errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body;
  };
  // A cursor from the middle of the polled runs, for the next-page statement.
  const cursorPage = (await graphql(
    'query ($since: DateTime) { flowRuns(filter: { updatedSince: $since }, orderBy: [{ field: updatedAt, direction: ASC }], first: 100) { pageInfo { endCursor } } }',
    { since: everything },
  )()) as { data: { flowRuns: { pageInfo: { endCursor: string } } } };

  const cases: { title: string; request: string; send: () => Promise<unknown> }[] = [
    {
      title: 'Find a thread by channel and identifier',
      request: `GET /public/v2/message-threads?filter[channel]=whatsapp&filter[identifier]=${threadRows[0].identifier}`,
      send: rest(`/public/v2/message-threads?filter[channel]=whatsapp&filter[identifier]=${threadRows[0].identifier}`),
    },
    {
      title: 'Find a flow by name',
      request: `GET /public/v2/flows?filter[name]=${flowRows[0].name}`,
      send: rest(`/public/v2/flows?filter[name]=${encodeURIComponent(flowRows[0].name)}`),
    },
    {
      title: `Poll: runs updated in the last hour of the data (${timeRows[0].count} runs), oldest first`,
      request: `GET /public/v2/flow-runs?filter[updatedSince]=${recent}&sort=updatedAt`,
      send: rest(`/public/v2/flow-runs?filter[updatedSince]=${recent}&sort=updatedAt`),
    },
    {
      title: 'Poll from far back: every run matches, oldest first (the first page of a full resync)',
      request: `GET /public/v2/flow-runs?filter[updatedSince]=${everything}&sort=updatedAt`,
      send: rest(`/public/v2/flow-runs?filter[updatedSince]=${everything}&sort=updatedAt`),
    },
    {
      title: 'Newest updates first, no filter',
      request: 'GET /public/v2/flow-runs?sort=-updatedAt',
      send: rest('/public/v2/flow-runs?sort=-updatedAt'),
    },
    {
      title: 'GraphQL: the next page after a cursor, in updatedAt order',
      request: 'flowRuns(filter: { updatedSince }, orderBy: [{ field: updatedAt, direction: ASC }], first: 25, after: $cursor)',
      send: graphql(
        'query ($since: DateTime, $after: String) { flowRuns(filter: { updatedSince: $since }, orderBy: [{ field: updatedAt, direction: ASC }], first: 25, after: $after) { edges { node { id updatedAt } } } }',
        { since: everything, after: cursorPage.data.flowRuns.pageInfo.endCursor },
      ),
    },
  ];

  console.log(`Dataset: ${FULL.flows} flows, ${FULL.threads} threads, ${FULL.runs} runs in one organization (bench/dataset.ts).`);
  console.log(`${(await client.query<{ version: string }>('SELECT version()')).rows[0].version}\n`);
  for (const { title, request, send } of cases) {
    captured.length = 0;
    capturing = true;
    await send();
    capturing = false;
    // The statements of the list itself: the API key's look-up and the like are not this filter's.
    const statements = captured.filter(({ sql }) => /"FlowRun"|"Flow"|"MessageThread"/.test(sql) && !/"ApiKey"/.test(sql));
    console.log(`## ${title}\n\n\`${request}\`\n`);
    for (const { sql, params } of statements) {
      console.log('```sql');
      console.log(sql);
      console.log(`-- parameters: ${JSON.stringify(params)}`);
      console.log('```\n');
      for (const withIndexes of [true, false]) {
        await client.query('BEGIN');
        if (!withIndexes) for (const index of NEW_INDEXES) await client.query(`DROP INDEX ${index}`);
        const times: number[] = [];
        let plan = '';
        for (let i = 0; i <= RUNS; i++) {
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
          plan = rows.map((row) => row['QUERY PLAN']).join('\n');
          const execution = /Execution Time: ([\d.]+) ms/.exec(plan);
          if (i > 0 && execution) times.push(Number(execution[1]));
        }
        await client.query('ROLLBACK');
        times.sort((a, b) => a - b);
        const median = times[Math.floor(times.length / 2)];
        console.log(`${withIndexes ? 'With the new indexes' : 'Without them'}: median execution ${median.toFixed(3)} ms (${RUNS} runs)\n`);
        console.log('```');
        console.log(plan);
        console.log('```\n');
      }
    }
  }
} finally {
  await client.end().catch(() => {});
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
