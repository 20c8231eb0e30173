// The plans of the lookup and polling filters on the benchmark's dataset (50,000 runs):
// seeds a new database on the PostgreSQL server of PLANS_SERVER_URL, sends each filter's
// request through the app (the REST or GraphQL surface, as a client would), records the
// SQL Prisma sends with its parameters, and prints EXPLAIN (ANALYZE, BUFFERS) of each
// statement — with the indexes of the polling_and_lookup_indexes migration, and without
// them (dropped inside a transaction that is rolled back). Timings are the median of
// five executions after one warm-up. The output is Markdown for docs/QUERY-PLANS.md.
//
// Then the statements of the benchmark's workloads (bench/run.ts): the pages and the run
// by id as the service sends them now (compileFlowRunRead) and as Prisma sent them before
// (the same findMany arguments through the tenant's Prisma client), PostGraphile's page
// (docs/BENCHMARKS.md), the list total, and the plain trigger's one statement (EXPLAIN
// ANALYZE inside BEGIN … ROLLBACK, with a fresh run id each time). Each with its plan's
// shape and the medians of execution time, planning time and shared buffers.
//
//   PLANS_SERVER_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/query-plans.ts > plans.md
//   … bench/query-plans.ts workloads   (the workloads' section only)
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { openDatabase } from '../src/database/client.js';
import { compileFlowRunRead, type FlowRunReadArgs } from '../src/database/flow-run-reads.js';
import { scopeToOrganization } from '../src/database/tenant.js';
import { triggerFlowRun } from '../src/domain/flow-runs.js';
import { createAuthenticator } from '../src/domain/organizations.js';
import { createApp } from '../src/http/app.js';
import { at, only } from '../test/support/items.js';
import { FULL, makeInitialMessage, makeState, random, seedDataset } from './dataset.js';

const serverUrl = process.env.PLANS_SERVER_URL;
if (!serverUrl) {
  console.error('set PLANS_SERVER_URL to a PostgreSQL server (a scratch database is created there and dropped)');
  process.exit(2);
}

const NEW_INDEXES = ['"Flow_organizationId_name_idx"', '"FlowRun_organizationId_updatedAt_id_idx"'];
const RUNS = 5;
const workloadsOnly = process.argv[2] === 'workloads';

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
  const { recent: recentDate, count: recentCount } = only(timeRows);
  const recent = recentDate.toISOString();
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

  const thread = only(threadRows);
  const flow = only(flowRows);
  const cases: { title: string; request: string; send: () => Promise<unknown> }[] = [
    {
      title: 'Find a thread by channel and identifier',
      request: `GET /public/v2/message-threads?filter[channel]=whatsapp&filter[identifier]=${thread.identifier}`,
      send: rest(`/public/v2/message-threads?filter[channel]=whatsapp&filter[identifier]=${thread.identifier}`),
    },
    {
      title: 'Find a flow by name',
      request: `GET /public/v2/flows?filter[name]=${flow.name}`,
      send: rest(`/public/v2/flows?filter[name]=${encodeURIComponent(flow.name)}`),
    },
    {
      title: `Poll: runs updated in the last hour of the data (${recentCount} runs), oldest first`,
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
  console.log(`${only((await client.query<{ version: string }>('SELECT version()')).rows).version}\n`);
  for (const { title, request, send } of workloadsOnly ? [] : cases) {
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
        console.log(`${withIndexes ? 'With the new indexes' : 'Without them'}: median execution ${median(times).toFixed(3)} ms (${RUNS} runs)\n`);
        console.log('```');
        console.log(plan);
        console.log('```\n');
      }
    }
  }

  await workloadPlans(seeded.organizationId, seeded.apiKey, seeded.flowIds);
} finally {
  await client.end().catch(() => {});
  await db.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

interface Measured {
  plan: string;
  shape: string;
  execution: number;
  planning: number;
  buffers: string;
}

function median(values: number[]): number {
  return at(
    [...values].sort((a, b) => a - b),
    Math.floor(values.length / 2),
  );
}

/** The plan's nodes in order, one line: identical nodes counted once ("2 × Index Scan on Flow_pkey"). */
function shapeOf(plan: string): string {
  const nodes = new Map<string, number>();
  for (const line of plan.split('\n')) {
    const node = /^\s*(?:->\s+)?([A-Z][A-Za-z ]*?)(?: using "?([\w]+)"?)?(?: on "?(\w+)"?(?: "?\w+"?)?)?\s+\(cost=/.exec(line);
    if (!node) continue;
    const [, type, index, table] = node;
    if (!type) continue;
    const label = index ? `${type} on ${index}` : table ? `${type} on ${table}` : type;
    nodes.set(label, (nodes.get(label) ?? 0) + 1);
  }
  return [...nodes].map(([label, count]) => (count > 1 ? `${count} × ${label}` : label)).join(', ');
}

/** The shared buffers of the executed statement: the top node's (what it and everything under it read). */
function buffersOf(plan: string): { hit: number; read: number } {
  const executed = at(plan.split(/^Planning:/m), 0);
  const line = /Buffers: shared([^\n]*)/.exec(executed)?.[1] ?? '';
  return { hit: Number(/hit=(\d+)/.exec(line)?.[1] ?? 0), read: Number(/read=(\d+)/.exec(line)?.[1] ?? 0) };
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) after one warm-up, RUNS times: medians of execution, planning
 * and buffers, and the last plan. `paramsOf(i)` gives each execution's parameters; `rollback`
 * runs each inside BEGIN … ROLLBACK (a write leaves the data as it was).
 */
async function measure(sql: string, paramsOf: () => unknown[], rollback = false): Promise<Measured> {
  const executions: number[] = [];
  const plannings: number[] = [];
  const hits: number[] = [];
  const reads: number[] = [];
  let plan = '';
  for (let i = 0; i <= RUNS; i++) {
    if (rollback) await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, paramsOf());
      plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      if (rollback) await client.query('ROLLBACK');
    }
    if (i === 0) continue;
    executions.push(Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1]));
    plannings.push(Number(/Planning Time: ([\d.]+) ms/.exec(plan)?.[1]));
    const { hit, read } = buffersOf(plan);
    hits.push(hit);
    reads.push(read);
  }
  const read = median(reads);
  return {
    plan,
    shape: shapeOf(plan),
    execution: median(executions),
    planning: median(plannings),
    buffers: `${median(hits)} hit${read ? `, ${read} read` : ''}`,
  };
}

// PostGraphile's page statement, as docs/BENCHMARKS.md ("What PostGraphile sends") records it.
function postgraphilePage(limit: number): string {
  return `select
__flow_run__."id" as "0",
__flow_run__."status"::text as "1",
to_char(__flow_run__."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'::text) as "2",
__flow__."name" as "3",
__message_thread__."channel"::text as "4",
__message_thread__."identifier" as "5"
from "public"."FlowRun" as __flow_run__
left outer join "public"."Flow" as __flow__
on (
/* WHERE becoming ON */ (__flow__."id" = __flow_run__."flowId"))
left outer join "public"."MessageThread" as __message_thread__
on (
/* WHERE becoming ON */ (__message_thread__."id" = __flow_run__."messageThreadId"))
where (__flow_run__."organizationId" = $1::"uuid")
order by __flow_run__."createdAt" desc, __flow_run__."id" desc
limit ${limit};`;
}

/** What Prisma sent for `run` (the statements that read or write runs), captured by onQuery. */
async function prismaStatements(run: () => Promise<unknown>): Promise<{ sql: string; params: unknown[] }[]> {
  captured.length = 0;
  capturing = true;
  try {
    await run();
  } finally {
    capturing = false;
  }
  return captured.filter(({ sql }) => /"FlowRun/.test(sql)).map((statement) => ({ ...statement }));
}

async function workloadPlans(organizationId: string, apiKey: string, flowIds: string[]) {
  const scoped = scopeToOrganization(db.prisma, organizationId);
  const tenant = await createAuthenticator(db).authenticate(apiKey);
  const graphqlSelect = {
    flow: true,
    messageThread: true,
    id: true,
    flowId: true,
    messageThreadId: true,
    status: true,
    expiresAt: true,
    cost: true,
    createdAt: true,
    updatedAt: true,
  };
  const restSelect = { ...graphqlSelect, state: true, initialMessage: true };
  const page = (select: Record<string, unknown>, first: number): FlowRunReadArgs => ({
    select,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: first + 1,
    skip: 0,
  });
  const { rows: someRun } = await client.query<{ id: string }>('SELECT id FROM "FlowRun" ORDER BY "createdAt" DESC, id DESC OFFSET 1000 LIMIT 1');
  const someRunId = only(someRun).id;
  const byId: FlowRunReadArgs = { select: restSelect, where: { id: someRunId }, take: 1 };

  type Row = { workload: string; who: string; sql: string; params: unknown[]; measured: Measured };
  const rows: Row[] = [];
  const add = async (workload: string, who: string, sql: string, params: unknown[], paramsOf = () => params, rollback = false) => {
    rows.push({ workload, who, sql, params, measured: await measure(sql, paramsOf, rollback) });
  };
  const compiledAndPrisma = async (workload: string, args: FlowRunReadArgs, label = 'now (compiled)') => {
    const compiled = compileFlowRunRead(organizationId, args);
    if (!compiled) throw new Error(`${workload}: not compiled`);
    await add(workload, label, compiled.text, compiled.values);
    const before = await prismaStatements(() => scoped.flowRun.findMany(args as Parameters<typeof scoped.flowRun.findMany>[0]));
    const { sql, params } = only(before, `${workload}: Prisma statement`);
    await add(workload, 'before (Prisma)', sql, params);
  };

  for (const first of [25, 100]) {
    await compiledAndPrisma(`page${first}, GraphQL`, page(graphqlSelect, first));
    await compiledAndPrisma(`page${first}, REST`, page(restSelect, first));
    await add(`page${first}, PostGraphile`, 'PostGraphile', postgraphilePage(first), [organizationId]);
  }
  await compiledAndPrisma('byId', byId, 'compiled, where { id } take 1 (before the loader)');
  // What flowRun(id:) sends now: the loader's `findByIds`, one statement for the ids asked together.
  const loaderById = compileFlowRunRead(organizationId, { select: { ...restSelect, id: true }, where: { id: { in: [someRunId] } } });
  if (!loaderById) throw new Error('findByIds: not compiled');
  await add('byId', 'now (compiled, the loader: id IN, no LIMIT)', loaderById.text, loaderById.values);

  // The reader reports its statements to onQuery as Prisma's query log does.
  const [count] = (await prismaStatements(() => tenant.reads.flowRuns.countAll())).filter(({ sql }) => /"FlowRunCount"/.test(sql));
  if (!count) throw new Error('countAll sent no statement');
  await add('list total (countAll)', 'now', count.sql, count.params);

  // The plain trigger as the benchmark sends it (a WhatsApp thread, a template as opening
  // message): its one statement, captured once, then measured with a fresh run id each time
  // inside a rolled-back transaction. The captured trigger's run is deleted again. Twice: on
  // a thread with a running run (the new run is queued) and on one without (it runs).
  const whatsappThread = async (running: boolean) => {
    const { rows: found } = await client.query<{ id: string }>(
      `SELECT t.id FROM "MessageThread" t WHERE t.channel = 'whatsapp'
         AND ${running ? '' : 'NOT'} EXISTS (SELECT 1 FROM "FlowRun" r WHERE r."messageThreadId" = t.id AND r.status = 'running')
       ORDER BY t.id LIMIT 1`,
    );
    if (!found[0]) throw new Error(`no WhatsApp thread ${running ? 'with' : 'without'} a running run`);
    return found[0].id;
  };
  const busy = await whatsappThread(true);
  const idle = await whatsappThread(false);
  const next = random(7);
  const state = makeState(next);
  let created = '';
  const triggered = await prismaStatements(async () => {
    const { run } = await triggerFlowRun(tenant, {
      flowId: at(flowIds, 0),
      messageThreadId: busy,
      state,
      initialMessage: makeInitialMessage(next, 'whatsapp', state),
    });
    created = run.id;
  });
  await client.query('DELETE FROM "FlowRun" WHERE id = $1', [created]);
  const statements = triggered.filter(({ params }) => params.includes(created));
  const [trigger] = statements;
  if (!trigger || statements.length !== 1) throw new Error(`the trigger sent ${statements.length} statements naming its run (the full path?)`);
  for (const [workload, thread] of [
    ['trigger, thread with a running run (queued)', busy],
    ['trigger, thread without one (running)', idle],
  ] as const) {
    const params = trigger.params.map((value) => (value === busy ? thread : value));
    const fresh = () => {
      const id = randomUUID();
      return params.map((value) => (value === created ? id : value));
    };
    await add(workload, 'now (one statement)', trigger.sql, params, fresh, true);
  }

  console.log("## The benchmark's workloads\n");
  console.log(
    `Load average while measuring: ${loadavg()
      .map((load) => load.toFixed(2))
      .join(', ')} (1, 5, 15 min).\n`,
  );
  console.log('| workload | statement | plan | execution ms | planning ms | shared buffers |');
  console.log('|---|---|---|---:|---:|---|');
  for (const { workload, who, measured } of rows) {
    console.log(
      `| ${workload} | ${who} | ${measured.shape} | ${measured.execution.toFixed(3)} | ${measured.planning.toFixed(3)} | ${measured.buffers} |`,
    );
  }
  console.log('');
  for (const { workload, who, sql, params, measured } of rows) {
    console.log(`### ${workload}: ${who}\n`);
    console.log('```sql');
    console.log(sql);
    console.log(`-- parameters: ${JSON.stringify(params)}`);
    console.log('```\n');
    console.log(
      `Plan: ${measured.shape}. Median of ${RUNS}: execution ${measured.execution.toFixed(3)} ms, planning ${measured.planning.toFixed(3)} ms, shared buffers ${measured.buffers}.\n`,
    );
    console.log('```');
    console.log(measured.plan);
    console.log('```\n');
  }
}
