// npm run bench [-- --smoke]
// Seeds a fixed dataset, starts the gateway and the floor (bench/floor.ts) as separate
// processes on it, loads each workload over HTTP with autocannon, and reports req/s,
// latency, SQL statements per request and peak memory, as a Markdown table and as
// bench/results/latest.json. DATABASE_URL selects a PostgreSQL server (a scratch
// database is created on it and dropped afterwards); without it, the embedded database.
// --smoke: a small dataset and a second per workload, checking only that every workload
// answers correctly (CI runs it; its timings mean nothing).
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { openDatabase } from '../src/database/client.js';
import { FULL, type Seeded, SMOKE, seedDataset } from './dataset.js';

const smoke = process.argv.includes('--smoke');
const CONNECTIONS = 16;
const WARMUP_SECONDS = smoke ? 0.5 : 3;
const SECONDS = smoke ? 1 : 10;
const root = new URL('..', import.meta.url).pathname;

type Surface = 'graphql' | 'rest' | 'floor';
type Workload = 'page25' | 'page100' | 'byId' | 'trigger';

interface Row {
  workload: Workload;
  surface: Surface;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  statementsPerRequest: number;
  peakRssMb: number;
  ratioToFloor: number | null;
}

// --- processes -----------------------------------------------------------------------

async function start(script: string, env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; url: string }> {
  // The gateway runs as `npm start` runs it (package.json), V8 heap cap included.
  const flags = script === 'src/server.ts' ? ['--max-old-space-size=256'] : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const match = ready.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready:\n${output}`)));
  });
  child.stdout!.resume();
  return { child, url };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
async function peakRssMb(child: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

// --- workloads -------------------------------------------------------------------------

const PAGE_QUERY = `query Page($first: Int!) {
  flowRuns(first: $first) { edges { node { id status createdAt flow { name } messageThread { channel identifier } } } }
}`;
const ONE_QUERY = `query One($id: UUID!) {
  flowRun(id: $id) { id status cost createdAt flow { name } messageThread { channel identifier } }
}`;
const TRIGGER_MUTATION = `mutation Trigger($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { __typename } }`;

interface RequestPlan {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function planner(surface: Surface, workload: Workload, seeded: Seeded, apiKey: string): () => RequestPlan {
  let i = 0;
  const pick = <T>(list: T[]) => list[(i++ * 7919) % list.length];
  const graphql = (query: string, variables: object): RequestPlan => ({
    method: 'POST',
    path: '/graphql',
    headers: { authorization: apiKey, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const rest = (method: 'GET' | 'POST', path: string, body?: object): RequestPlan => ({
    method,
    path,
    headers: { authorization: apiKey, 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json' },
    ...(body && { body: JSON.stringify(body) }),
  });
  const size = workload === 'page100' ? 100 : 25;
  const triggerInput = () => ({ flowId: pick(seeded.flowIds), messageThreadId: pick(seeded.threadIds) });
  switch (`${surface}:${workload}`) {
    case 'graphql:page25':
    case 'graphql:page100':
      return () => graphql(PAGE_QUERY, { first: size });
    case 'rest:page25':
    case 'rest:page100':
      return () => rest('GET', `/public/v2/flow-runs?include=flow,messageThread&page[size]=${size}`);
    case 'floor:page25':
    case 'floor:page100':
      return () => ({ method: 'GET', path: `/runs?size=${size}`, headers: {} });
    case 'graphql:byId':
      return () => graphql(ONE_QUERY, { id: pick(seeded.runIds) });
    case 'rest:byId':
      return () => rest('GET', `/public/v2/flow-runs/${pick(seeded.runIds)}?include=flow,messageThread`);
    case 'floor:byId':
      return () => ({ method: 'GET', path: `/runs/${pick(seeded.runIds)}`, headers: {} });
    case 'graphql:trigger':
      return () => graphql(TRIGGER_MUTATION, { input: { ...triggerInput(), state: {}, initialMessage: {} } });
    case 'rest:trigger':
      return () =>
        rest('POST', '/public/v2/flow-runs', {
          data: { type: 'flowRuns', attributes: { ...triggerInput(), state: {}, initialMessage: {} } },
        });
    case 'floor:trigger':
      return () => ({
        method: 'POST',
        path: '/runs',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(triggerInput()),
      });
  }
  throw new Error(`no plan for ${surface}:${workload}`);
}

/** One request of the workload, checked for a correct answer (used by --smoke and before each load). */
async function checkOnce(baseUrl: string, surface: Surface, workload: Workload, plan: RequestPlan) {
  const response = await fetch(baseUrl + plan.path, { method: plan.method, headers: plan.headers, body: plan.body });
  const body = (await response.json()) as Record<string, any>;
  const expected = workload === 'trigger' ? 201 : 200;
  const ok =
    surface === 'graphql'
      ? response.status === 200 && !body.errors && body.data
      : response.status === (surface === 'rest' ? expected : workload === 'trigger' ? 201 : 200);
  const size = workload === 'page100' ? 100 : 25;
  const count =
    surface === 'graphql' ? body.data?.flowRuns?.edges?.length : surface === 'rest' ? body.data?.length : Array.isArray(body) ? body.length : undefined;
  if (!ok || (workload.startsWith('page') && count !== size)) {
    throw new Error(`${surface} ${workload}: unexpected answer ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

async function load(baseUrl: string, plan: () => RequestPlan, seconds: number) {
  const first = plan();
  return autocannon({
    url: baseUrl,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: first.method,
        path: first.path,
        setupRequest: (request) => {
          const next = plan();
          return { ...request, method: next.method, path: next.path, headers: next.headers, body: next.body };
        },
      },
    ],
  });
}

async function statementCount(surface: Surface, baseUrl: string): Promise<number> {
  if (surface === 'floor') return ((await (await fetch(`${baseUrl}/stats`)).json()) as { statements: number }).statements;
  const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(/^db_statements_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
}

// --- the run ---------------------------------------------------------------------------

async function main() {
  const size = smoke ? SMOKE : FULL;
  const serverUrl = process.env.DATABASE_URL;
  const kind = serverUrl ? 'postgresql' : 'embedded';
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  let floorDataDir: string | undefined;
  const scratch = `flow_run_bench_${process.pid}`;
  const cleanups: (() => Promise<unknown>)[] = [];

  if (serverUrl) {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${scratch}`);
    await admin.end();
    const url = new URL(serverUrl);
    url.pathname = `/${scratch}`;
    databaseUrl = url.toString();
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`);
      await client.end();
    });
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'flow-run-bench-'));
    dataDir = join(dir, 'gateway');
    floorDataDir = join(dir, 'floor');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }

  const processes: ChildProcess[] = [];
  try {
    console.log(`Seeding ${size.flows} flows, ${size.threads} threads, ${size.threads * size.runsPerThread} runs (${kind})…`);
    const db = await openDatabase({ databaseUrl, dataDir });
    const seeded = await seedDataset(db, size);
    await db.close();
    // The embedded database belongs to one process: the floor gets its own copy.
    if (floorDataDir) await cp(dataDir!, floorDataDir, { recursive: true });

    const gateway = await start(
      'src/server.ts',
      {
        PORT: '0',
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dataDir!, DATABASE_URL: '' }),
        RATE_LIMIT_PER_MINUTE: '0',
        LOG_LEVEL: 'warn',
        SWEEP_INTERVAL_MS: '600000',
        REDIS_URL: '',
      },
      /on (http:\/\/localhost:\d+)\/graphql/,
    );
    processes.push(gateway.child);
    const floor = await start(
      'bench/floor.ts',
      {
        PORT: '0',
        FLOOR_ORGANIZATION_ID: seeded.organizationId,
        ...(databaseUrl ? { FLOOR_DATABASE_URL: databaseUrl } : { FLOOR_DATA_DIR: floorDataDir!, FLOOR_DATABASE_URL: '' }),
      },
      /floor on (http:\/\/127\.0\.0\.1:\d+)/,
    );
    processes.push(floor.child);
    const baseUrl: Record<Surface, string> = { graphql: gateway.url, rest: gateway.url, floor: floor.url };

    const rows: Row[] = [];
    const failures: string[] = [];
    for (const workload of ['page25', 'page100', 'byId', 'trigger'] as Workload[]) {
      for (const surface of ['floor', 'graphql', 'rest'] as Surface[]) {
        const plan = planner(surface, workload, seeded, seeded.apiKey);
        try {
          await checkOnce(baseUrl[surface], surface, workload, plan());
        } catch (error) {
          failures.push((error as Error).message);
          continue;
        }
        await load(baseUrl[surface], plan, WARMUP_SECONDS);
        const before = await statementCount(surface, baseUrl[surface]);
        const result = await load(baseUrl[surface], plan, SECONDS);
        const after = await statementCount(surface, baseUrl[surface]);
        const answered = result['2xx'];
        if (result.non2xx > 0 || result.errors > 0 || answered === 0) {
          failures.push(`${surface} ${workload}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
        }
        rows.push({
          workload,
          surface,
          reqPerSec: Math.round(answered / SECONDS),
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          statementsPerRequest: Math.round(((after - before) / Math.max(1, result.requests.total)) * 100) / 100,
          peakRssMb: 0,
          ratioToFloor: null,
        });
        console.log(`  ${workload} ${surface}: ${Math.round(answered / SECONDS)} req/s`);
      }
    }
    const gatewayRss = await peakRssMb(gateway.child);
    const floorRss = await peakRssMb(floor.child);
    for (const row of rows) {
      row.peakRssMb = row.surface === 'floor' ? floorRss : gatewayRss;
      const floorRow = rows.find((other) => other.surface === 'floor' && other.workload === row.workload);
      row.ratioToFloor = floorRow?.reqPerSec ? Math.round((row.reqPerSec / floorRow.reqPerSec) * 100) / 100 : null;
    }

    console.log(`\n${table(rows, kind)}`);
    if (!smoke) {
      await writeFile(join(root, 'bench/results/latest.json'), `${JSON.stringify({ database: kind, rows }, null, 2)}\n`);
      console.log('\nwrote bench/results/latest.json');
    }
    if (failures.length) {
      console.error(`\n${failures.length} workload(s) did not answer correctly:\n${failures.join('\n')}`);
      process.exitCode = 1;
    } else if (smoke) {
      console.log('\nsmoke: every workload answered correctly on every surface');
    }
  } finally {
    for (const child of processes) await stop(child);
    for (const cleanup of cleanups) await cleanup();
  }
}

function table(rows: Row[], kind: string): string {
  const lines = [
    `Database: ${kind}; ${CONNECTIONS} connections, ${SECONDS} s per workload; load generator and servers share the machine's cores.`,
    '',
    '| workload | surface | req/s | p50 ms | p99 ms | SQL/request | peak RSS MB | × floor |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.workload} | ${row.surface} | ${row.reqPerSec} | ${row.p50Ms} | ${row.p99Ms} | ${row.statementsPerRequest} | ${row.peakRssMb} | ${row.ratioToFloor ?? '–'} |`,
    );
  }
  return lines.join('\n');
}

await main();
