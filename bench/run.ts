// npm run bench [-- --smoke] [-- --rounds 3 --warmup 15 --duration 10 --workloads page25,byId --surfaces graphql,postgraphile --runs 200000]
// Seeds a fixed dataset (bench/dataset.ts), starts the gateway, the floor (bench/floor.ts)
// and, on PostgreSQL, PostGraphile v5 (bench/postgraphile.ts) as separate processes on it,
// loads each workload over HTTP with autocannon, and reports req/s, latency, SQL
// statements per request and peak memory (medians of the rounds), the ratios between the
// surfaces and the budget check, as Markdown and as JSON (bench/results/latest.json for a
// run with the issue's settings). DATABASE_URL selects a PostgreSQL server (a scratch
// database is created on it and dropped afterwards); without it, the embedded database,
// where PostGraphile cannot run (it needs a real PostgreSQL) and is skipped.
// --smoke: a small dataset and a second per workload, checking only that every workload
// answers correctly on every surface (CI runs it; its timings mean nothing).
// --runs N: the dataset with N runs instead of its usual number (flows and threads stay).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createScratchDatabase } from './scratch-database.js';
import { openDatabase } from '../src/database/client.js';
import { at, defined } from '../test/support/items.js';
import { FULL, makeInitialMessage, makeState, random, type Seeded, SMOKE, seedDataset } from './dataset.js';

// --- settings --------------------------------------------------------------------------

const SURFACES = ['floor', 'postgraphile', 'graphql', 'rest'] as const;
const WORKLOADS = ['page25', 'page100', 'byId', 'trigger', 'triggerIdem'] as const;
type Surface = (typeof SURFACES)[number];
type Workload = (typeof WORKLOADS)[number];
/** Reads first, writes last: the writes add runs, and the reads should all see the seeded data. */
const READS: Workload[] = ['page25', 'page100', 'byId'];
const WRITES: Workload[] = ['trigger', 'triggerIdem'];
/** The issue's measurement settings: what bench/results/latest.json must be measured with. */
const ISSUE = { connections: 16, warmup: 15, duration: 10, rounds: 3 };

const { values: flags } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    workloads: { type: 'string' },
    surfaces: { type: 'string' },
    out: { type: 'string' },
    runs: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const smoke = flags.smoke!;
const number = (value: string | undefined, fallback: number, name: string) => {
  const parsed = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name}: expected a number, got ${value}`);
  return parsed;
};
const list = <T extends string>(value: string | undefined, all: readonly T[], name: string): T[] => {
  if (!value) return [...all];
  const chosen = value.split(',').map((item) => item.trim()) as T[];
  const unknown = chosen.filter((item) => !all.includes(item));
  if (unknown.length) throw new Error(`--${name}: unknown ${unknown.join(', ')} (known: ${all.join(', ')})`);
  return chosen;
};
const settings = {
  connections: number(flags.connections, ISSUE.connections, 'connections'),
  warmup: number(flags.warmup, smoke ? 0.5 : ISSUE.warmup, 'warmup'),
  duration: number(flags.duration, smoke ? 1 : ISSUE.duration, 'duration'),
  rounds: Math.max(1, Math.round(number(flags.rounds, smoke ? 1 : ISSUE.rounds, 'rounds'))),
};
const dataset = { ...(smoke ? SMOKE : FULL) };
if (flags.runs !== undefined) {
  dataset.runs = number(flags.runs, dataset.runs, 'runs');
  if (!Number.isInteger(dataset.runs) || dataset.runs < 1) throw new Error(`--runs: expected a whole number of at least 1, got ${flags.runs}`);
}
const workloads = list(flags.workloads, WORKLOADS, 'workloads');
const surfacesWanted = list(flags.surfaces, SURFACES, 'surfaces');
const issueSettings =
  !smoke &&
  settings.connections === ISSUE.connections &&
  settings.warmup === ISSUE.warmup &&
  settings.duration === ISSUE.duration &&
  settings.rounds === ISSUE.rounds &&
  dataset.runs === FULL.runs &&
  workloads.length === WORKLOADS.length &&
  surfacesWanted.length === SURFACES.length;
const root = new URL('..', import.meta.url).pathname;

/** Which surfaces a workload has: the Idempotency-Key trigger is a REST workload. */
const surfacesOf = (workload: Workload): Surface[] => (workload === 'triggerIdem' ? ['rest'] : [...SURFACES]);

interface Measurement {
  round: number;
  workload: Workload;
  surface: Surface;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  statementsPerRequest: number;
  /**
   * CPU time (user + system) of the serving process per answered request, in ms: less
   * sensitive than req/s to what else the shared cores run, so it is the figure to read on
   * a busy machine.
   */
  cpuMsPerRequest: number;
  /** 1-minute load average of the machine when the measurement ended. */
  load1: number;
}

/** A workload on a surface over all rounds: the measured figures are their medians. */
interface Row extends Omit<Measurement, 'round' | 'load1'> {
  peakRssMb: number;
  ratioToFloor: number | null;
  /** Each round's req/s, in order. */
  rounds: number[];
}

// --- processes -------------------------------------------------------------------------

/**
 * Starts a process and resolves once it is ready: when its stdout matches `ready`, or, for
 * a function, once that answers true (polled every 100 ms).
 */
async function start(
  script: string,
  env: Record<string, string>,
  ready: RegExp | (() => Promise<boolean>),
): Promise<{ child: ChildProcess; match: RegExpExecArray | null }> {
  // The gateway runs as `npm start` runs it (package.json): the build in dist/ (made by
  // `prebench`), V8 heap cap included. The peers run from source.
  // --cpu-prof DIR: the gateway writes a V8 CPU profile there when it stops (summarise it
  // with bench/profile-summary.ts).
  const profile = flags['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${flags['cpu-prof']}`] : [];
  const args = script === 'src/server.ts' ? ['--max-old-space-size=256', ...profile, 'dist/server.js'] : ['--import', 'tsx', script];
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  const match = await new Promise<RegExpExecArray | null>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready:\n${output}`)));
    if (ready instanceof RegExp) {
      child.stdout!.on('data', () => {
        const found = ready.exec(output);
        if (found) resolve(found);
      });
      return;
    }
    const poll = async () => {
      if (child.exitCode !== null) return;
      if (await ready()) return resolve(null);
      setTimeout(() => void poll(), 100);
    };
    void poll();
  });
  child.stdout!.resume();
  return { child, match };
}

/** A port nothing listens on right now, for a process that must be told its port. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
async function peakRssMb(child: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

// --- workloads -------------------------------------------------------------------------

// The same selections on our GraphQL and on PostGraphile's (whose names come from the
// tables: rowId is the uuid, `id` its global Node id; flowByFlowId, … the relations).
const PAGE_QUERY = `query Page($first: Int!) {
  flowRuns(first: $first) { edges { node { id status createdAt flow { name } messageThread { channel identifier } } } }
}`;
const ONE_QUERY = `query One($id: UUID!) {
  flowRun(id: $id) {
    id flowId messageThreadId state initialMessage status cost createdAt updatedAt
    flow { name } messageThread { channel identifier }
  }
}`;
const TRIGGER_MUTATION = `mutation Trigger($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { flowRun { id status } } }`;
const PG_PAGE_QUERY = `query Page($first: Int!, $organizationId: UUID!) {
  allFlowRuns(first: $first, condition: { organizationId: $organizationId }, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    edges { node { rowId status createdAt flowByFlowId { name } messageThreadByMessageThreadId { channel identifier } } }
  }
}`;
const PG_ONE_QUERY = `query One($id: UUID!) {
  flowRunByRowId(rowId: $id) {
    rowId flowId messageThreadId state initialMessage status cost createdAt updatedAt
    flowByFlowId { name } messageThreadByMessageThreadId { channel identifier }
  }
}`;
const PG_CREATE_MUTATION = `mutation Create($input: CreateFlowRunInput!) { createFlowRun(input: $input) { flowRun { rowId status } } }`;

interface RequestPlan {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function planner(surface: Surface, workload: Workload, seeded: Seeded): () => RequestPlan {
  let i = 0;
  const pick = <T>(list: T[]) => list[(i++ * 7919) % list.length];
  // A trigger carries what a real one does: a state like the seeded runs', and a
  // WhatsApp template as opening message on WhatsApp threads ({} elsewhere).
  const next = random(7);
  const states = Array.from({ length: 64 }, () => makeState(next));
  const templates = states.map((state) => makeInitialMessage(next, 'whatsapp', state));
  const triggerInput = () => {
    const thread = (i++ * 7919) % seeded.threadIds.length;
    const sample = i % states.length;
    return {
      flowId: pick(seeded.flowIds),
      messageThreadId: seeded.threadIds[thread],
      state: states[sample],
      initialMessage: seeded.threadChannels[thread] === 'whatsapp' ? templates[sample] : {},
    };
  };
  const graphql = (query: string, variables: object, headers: Record<string, string> = { authorization: seeded.apiKey }): RequestPlan => ({
    method: 'POST',
    path: '/graphql',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const rest = (method: 'GET' | 'POST', path: string, body?: object, headers: Record<string, string> = {}): RequestPlan => ({
    method,
    path,
    headers: { authorization: seeded.apiKey, 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json', ...headers },
    ...(body && { body: JSON.stringify(body) }),
  });
  const size = workload === 'page100' ? 100 : 25;
  switch (`${surface}:${workload}`) {
    case 'graphql:page25':
    case 'graphql:page100':
      return () => graphql(PAGE_QUERY, { first: size });
    case 'postgraphile:page25':
    case 'postgraphile:page100':
      return () => graphql(PG_PAGE_QUERY, { first: size, organizationId: seeded.organizationId }, {});
    case 'rest:page25':
    case 'rest:page100':
      return () => rest('GET', `/public/v2/flow-runs?include=flow,messageThread&page[size]=${size}`);
    case 'floor:page25':
    case 'floor:page100':
      return () => ({ method: 'GET', path: `/runs?size=${size}`, headers: {} });
    case 'graphql:byId':
      return () => graphql(ONE_QUERY, { id: pick(seeded.runIds) });
    case 'postgraphile:byId':
      return () => graphql(PG_ONE_QUERY, { id: pick(seeded.runIds) }, {});
    case 'rest:byId':
      return () => rest('GET', `/public/v2/flow-runs/${pick(seeded.runIds)}?include=flow,messageThread`);
    case 'floor:byId':
      return () => ({ method: 'GET', path: `/runs/${pick(seeded.runIds)}`, headers: {} });
    case 'graphql:trigger':
      return () => graphql(TRIGGER_MUTATION, { input: triggerInput() });
    case 'postgraphile:trigger':
      // PostGraphile inserts what it is given: the client picks the id and the status
      // (queued, which the one-running index always lets in); no queue rule runs.
      return () =>
        graphql(
          PG_CREATE_MUTATION,
          { input: { flowRun: { rowId: randomUUID(), organizationId: seeded.organizationId, status: 'queued', ...triggerInput() } } },
          {},
        );
    case 'rest:trigger':
      return () => rest('POST', '/public/v2/flow-runs', { data: { type: 'flowRuns', attributes: triggerInput() } });
    case 'rest:triggerIdem':
      // A new Idempotency-Key on every request: each one is a first use (a 201, nothing replayed).
      return () =>
        rest(
          'POST',
          '/public/v2/flow-runs',
          { data: { type: 'flowRuns', attributes: triggerInput() } },
          { 'idempotency-key': `bench-${randomUUID()}` },
        );
    case 'floor:trigger':
      return () => ({ method: 'POST', path: '/runs', headers: { 'content-type': 'application/json' }, body: JSON.stringify(triggerInput()) });
  }
  throw new Error(`no plan for ${surface}:${workload}`);
}

/** One request of the workload, checked for a correct answer (before each load; all --smoke checks). */
async function checkOnce(baseUrl: string, surface: Surface, workload: Workload, plan: RequestPlan) {
  const response = await fetch(baseUrl + plan.path, { method: plan.method, headers: plan.headers, body: plan.body });
  const text = await response.text();
  let body: Record<string, any> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // reported below
  }
  const creates = workload === 'trigger' || workload === 'triggerIdem';
  const graphqlLike = surface === 'graphql' || surface === 'postgraphile';
  const size = workload === 'page100' ? 100 : 25;
  let ok = graphqlLike ? response.status === 200 && !body.errors && body.data : response.status === (creates ? 201 : 200);
  if (ok) {
    const data = body.data;
    if (workload === 'page25' || workload === 'page100') {
      const count =
        surface === 'graphql'
          ? data.flowRuns?.edges?.length
          : surface === 'postgraphile'
            ? data.allFlowRuns?.edges?.length
            : surface === 'rest'
              ? data?.length
              : Array.isArray(body)
                ? body.length
                : undefined;
      ok = count === size;
    } else if (workload === 'byId') {
      const run =
        surface === 'graphql' ? data.flowRun : surface === 'postgraphile' ? data.flowRunByRowId : surface === 'rest' ? data?.attributes : body;
      ok = Boolean(run && typeof run.state === 'object' && run.state !== null && 'initialMessage' in run);
    } else {
      const run =
        surface === 'graphql'
          ? data.triggerFlowRun?.flowRun
          : surface === 'postgraphile'
            ? data.createFlowRun?.flowRun
            : surface === 'rest'
              ? data
              : body;
      ok = Boolean(run && (run.id || run.rowId));
    }
  }
  if (!ok) throw new Error(`${surface} ${workload}: unexpected answer ${response.status} ${text.slice(0, 300)}`);
}

async function load(baseUrl: string, plan: () => RequestPlan, seconds: number) {
  const first = plan();
  return autocannon({
    url: baseUrl,
    connections: settings.connections,
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

interface Target {
  url: string;
  statements: () => Promise<number>;
  /** The serving process, whose CPU time is read around each measurement. */
  pid: number;
}

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU time a process has used so far (utime + stime from /proc), in ms. */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

// --- the run ---------------------------------------------------------------------------

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? at(sorted, middle) : (at(sorted, middle - 1) + at(sorted, middle)) / 2;
};
const round2 = (value: number) => Math.round(value * 100) / 100;

async function main() {
  const startedAt = new Date();
  const size = dataset;
  const serverUrl = process.env.DATABASE_URL;
  const kind = serverUrl ? 'postgresql' : 'embedded';
  const surfaces = surfacesWanted.filter((surface) => surface !== 'postgraphile' || kind === 'postgresql');
  let databaseUrl: string | undefined;
  let dataDir: string | undefined;
  let floorDataDir: string | undefined;
  const scratch = `flow_run_bench_${process.pid}`;
  const cleanups: (() => Promise<unknown>)[] = [];

  if (serverUrl) {
    const scratchDatabase = await createScratchDatabase(serverUrl, scratch);
    databaseUrl = scratchDatabase.url;
    cleanups.push(() => scratchDatabase.drop());
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'flow-run-bench-'));
    dataDir = join(dir, 'gateway');
    floorDataDir = join(dir, 'floor');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  }
  console.log(
    `Settings: ${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured, ` +
      `${settings.rounds} round(s); load average ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')} on ${cpus().length} cores`,
  );
  if (surfacesWanted.includes('postgraphile') && kind === 'embedded') {
    console.log('PostGraphile is skipped: it needs a real PostgreSQL server (set DATABASE_URL), not the embedded database.');
  }

  const processes: ChildProcess[] = [];
  try {
    console.log(`Seeding ${size.flows} flows, ${size.threads} threads, ${size.runs} runs (${kind})…`);
    const db = await openDatabase({ databaseUrl, dataDir });
    const seeded = await seedDataset(db, size);
    await db.close();
    const { summary } = seeded;
    console.log(
      `  ${Object.entries(summary.byStatus)
        .map(([status, count]) => `${status} ${count}`)
        .join(', ')}; ${summary.withTemplateMessage} with a template message; state ${summary.meanStateBytes} bytes on average; ` +
        `${summary.threadsInNewest100} threads among the newest 100 runs`,
    );
    // The embedded database belongs to one process: the floor gets its own copy.
    if (floorDataDir) await cp(dataDir!, floorDataDir, { recursive: true });

    const targets: Partial<Record<Surface, Target>> = {};
    const children: Partial<Record<'gateway' | 'floor' | 'postgraphile', ChildProcess>> = {};
    if (surfaces.includes('graphql') || surfaces.includes('rest')) {
      // The gateway runs at LOG_LEVEL=warn (no line per request, which would be measured
      // too), so it does not log `listening`: it is given a port and asked /readyz.
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const gateway = await start(
        'src/server.ts',
        {
          PORT: String(port),
          HOST: '127.0.0.1',
          ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dataDir!, DATABASE_URL: '' }),
          RATE_LIMIT_PER_MINUTE: '0',
          LOG_LEVEL: 'warn',
          SWEEP_INTERVAL_MS: '600000',
          REDIS_URL: '',
        },
        async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
      );
      children.gateway = gateway.child;
      processes.push(gateway.child);
      const statements = async () => {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        return Number(/^db_statements_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
      };
      targets.graphql = { url, statements, pid: gateway.child.pid! };
      targets.rest = { url, statements, pid: gateway.child.pid! };
    }
    if (surfaces.includes('floor')) {
      const floor = await start(
        'bench/floor.ts',
        {
          PORT: '0',
          FLOOR_ORGANIZATION_ID: seeded.organizationId,
          ...(databaseUrl ? { FLOOR_DATABASE_URL: databaseUrl } : { FLOOR_DATA_DIR: floorDataDir!, FLOOR_DATABASE_URL: '' }),
        },
        /floor on (http:\/\/127\.0\.0\.1:\d+)/,
      );
      children.floor = floor.child;
      processes.push(floor.child);
      const url = defined(floor.match?.[1], 'the floor server’s URL');
      targets.floor = {
        url,
        statements: async () => ((await (await fetch(`${url}/stats`)).json()) as { statements: number }).statements,
        pid: floor.child.pid!,
      };
    }
    let postgraphileStats: string | undefined;
    if (surfaces.includes('postgraphile')) {
      const postgraphile = await start(
        'bench/postgraphile.ts',
        { PORT: '0', POSTGRAPHILE_DATABASE_URL: databaseUrl!, GRAPHILE_ENV: 'production' },
        /postgraphile on (http:\/\/127\.0\.0\.1:\d+) stats on (http:\/\/127\.0\.0\.1:\d+)/,
      );
      children.postgraphile = postgraphile.child;
      processes.push(postgraphile.child);
      const stats = defined(postgraphile.match?.[2], 'PostGraphile’s stats URL');
      postgraphileStats = stats;
      targets.postgraphile = {
        url: defined(postgraphile.match?.[1], 'PostGraphile’s URL'),
        statements: async () => ((await (await fetch(`${stats}/stats`)).json()) as { statements: number }).statements,
        pid: postgraphile.child.pid!,
      };
    }

    const measurements: Measurement[] = [];
    const failures: string[] = [];
    const failed = new Set<string>();
    const postgraphileSql: Partial<Record<Workload, Record<string, number>>> = {};
    for (const phase of [READS, WRITES]) {
      for (let round = 1; round <= settings.rounds; round++) {
        for (const workload of phase.filter((item) => workloads.includes(item))) {
          for (const surface of surfacesOf(workload).filter((item) => surfaces.includes(item))) {
            const key = `${surface} ${workload}`;
            if (failed.has(key)) continue;
            const target = targets[surface]!;
            const plan = planner(surface, workload, seeded);
            try {
              // PostGraphile's SQL for one request of each workload, kept with the results.
              if (surface === 'postgraphile' && round === 1) await fetch(`${postgraphileStats}/sql`);
              await checkOnce(target.url, surface, workload, plan());
              if (surface === 'postgraphile' && round === 1) {
                postgraphileSql[workload] = (await (await fetch(`${postgraphileStats}/sql`)).json()) as Record<string, number>;
              }
            } catch (error) {
              failures.push((error as Error).message);
              failed.add(key);
              continue;
            }
            if (settings.warmup > 0) await load(target.url, plan, settings.warmup);
            const before = await target.statements();
            const cpuBefore = await cpuMs(target.pid);
            const result = await load(target.url, plan, settings.duration);
            // Requests cut off at the end of the load may still be at the server: let them land.
            await new Promise((resolve) => setTimeout(resolve, 250));
            const cpuAfter = await cpuMs(target.pid);
            const after = await target.statements();
            const answered = result['2xx'];
            if (result.non2xx > 0 || result.errors > 0 || answered === 0) {
              failures.push(`${key} (round ${round}): ${result.non2xx} non-2xx answers, ${result.errors} errors`);
            }
            const measurement: Measurement = {
              round,
              workload,
              surface,
              reqPerSec: Math.round(answered / settings.duration),
              p50Ms: result.latency.p50,
              p99Ms: result.latency.p99,
              statementsPerRequest: round2((after - before) / Math.max(1, result.requests.sent)),
              cpuMsPerRequest: round2((cpuAfter - cpuBefore) / Math.max(1, answered)),
              load1: round2(at(loadavg(), 0)),
            };
            measurements.push(measurement);
            console.log(
              `  round ${round} ${workload} ${surface}: ${measurement.reqPerSec} req/s, p99 ${measurement.p99Ms} ms, ` +
                `${measurement.statementsPerRequest} SQL/request, ${measurement.cpuMsPerRequest} CPU ms/request (load ${measurement.load1})`,
            );
          }
        }
      }
    }

    const rss: Record<Surface, number | null> = { floor: null, postgraphile: null, graphql: null, rest: null };
    if (children.gateway) rss.graphql = rss.rest = await peakRssMb(children.gateway);
    if (children.floor) rss.floor = await peakRssMb(children.floor);
    if (children.postgraphile) rss.postgraphile = await peakRssMb(children.postgraphile);

    const rows: Row[] = [];
    for (const workload of workloads) {
      for (const surface of surfacesOf(workload).filter((item) => surfaces.includes(item))) {
        const mine = measurements.filter((m) => m.workload === workload && m.surface === surface);
        if (!mine.length) continue;
        rows.push({
          workload,
          surface,
          reqPerSec: Math.round(median(mine.map((m) => m.reqPerSec))),
          p50Ms: median(mine.map((m) => m.p50Ms)),
          p99Ms: median(mine.map((m) => m.p99Ms)),
          statementsPerRequest: round2(median(mine.map((m) => m.statementsPerRequest))),
          cpuMsPerRequest: round2(median(mine.map((m) => m.cpuMsPerRequest))),
          peakRssMb: rss[surface] ?? 0,
          ratioToFloor: null,
          rounds: mine.map((m) => m.reqPerSec),
        });
      }
    }
    const rowOf = (workload: Workload, surface: Surface) => rows.find((row) => row.workload === workload && row.surface === surface);
    for (const row of rows) {
      const floorRow = rowOf(row.workload === 'triggerIdem' ? 'trigger' : row.workload, 'floor');
      row.ratioToFloor = floorRow?.reqPerSec ? round2(row.reqPerSec / floorRow.reqPerSec) : null;
    }
    const ratio = (a?: Row, b?: Row) => (a && b?.reqPerSec ? round2(a.reqPerSec / b.reqPerSec) : null);
    const ratios = (['page25', 'page100', 'byId', 'trigger'] as Workload[])
      .filter((workload) => workloads.includes(workload))
      .map((workload) => ({
        workload,
        graphqlToPostgraphile: ratio(rowOf(workload, 'graphql'), rowOf(workload, 'postgraphile')),
        restToGraphql: ratio(rowOf(workload, 'rest'), rowOf(workload, 'graphql')),
      }));
    const budget = budgetCheck(rows, rowOf, ratio, kind);

    const endedAt = new Date();
    console.log(`\n${table(rows, kind)}\n\n${ratioTable(ratios, rowOf, ratio)}\n\n${budgetTable(budget)}`);
    console.log(
      `\nRun took ${Math.round((endedAt.getTime() - startedAt.getTime()) / 1000)} s; load average at the end ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}.`,
    );
    const out = flags.out ?? (issueSettings ? 'bench/results/latest.json' : smoke ? undefined : 'bench/results/custom.json');
    if (out) {
      const path = resolve(root, out);
      await mkdir(join(path, '..'), { recursive: true });
      const report = {
        startedAt: startedAt.toISOString(),
        endedAt: endedAt.toISOString(),
        database: kind,
        machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
        settings: { ...settings, smoke, workloads, surfaces },
        dataset: summary,
        rows,
        ratios,
        budget,
        measurements,
        postgraphileSql,
      };
      await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`wrote ${out}${issueSettings ? '' : " (not the issue's settings: bench/results/latest.json is left as it was)"}`);
    }
    if (failures.length) {
      console.error(`\n${failures.length} workload(s) did not answer correctly:\n${failures.join('\n')}`);
      process.exitCode = 1;
    } else if (smoke) {
      console.log(`\nsmoke: every workload answered correctly on every surface (${surfaces.join(', ')})`);
    }
  } finally {
    for (const child of processes) await stop(child);
    for (const cleanup of cleanups) await cleanup();
  }
}

interface BudgetLine {
  goal: string;
  figure: string;
  met: boolean | null;
}

function budgetCheck(
  rows: Row[],
  rowOf: (workload: Workload, surface: Surface) => Row | undefined,
  ratio: (a?: Row, b?: Row) => number | null,
  kind: string,
): BudgetLine[] {
  const lines: BudgetLine[] = [];
  const atLeast = (goal: string, value: number | null, floor: number, missing: string) =>
    lines.push({ goal, figure: value === null ? missing : `${value}×`, met: value === null ? null : value >= floor });
  for (const workload of ['page25', 'page100', 'byId', 'trigger'] as Workload[]) {
    atLeast(
      `GraphQL ≥ 1.0× PostGraphile, ${workload}`,
      ratio(rowOf(workload, 'graphql'), rowOf(workload, 'postgraphile')),
      1,
      kind === 'embedded' ? 'not measured (no PostGraphile on the embedded database)' : 'not measured',
    );
  }
  for (const workload of ['page25', 'page100', 'byId', 'trigger'] as Workload[]) {
    atLeast(`REST ≥ 0.9× our GraphQL, ${workload}`, ratio(rowOf(workload, 'rest'), rowOf(workload, 'graphql')), 0.9, 'not measured');
  }
  atLeast(
    'REST trigger with an Idempotency-Key ≥ 0.8× the plain REST trigger',
    ratio(rowOf('triggerIdem', 'rest'), rowOf('trigger', 'rest')),
    0.8,
    'not measured',
  );
  for (const surface of ['graphql', 'rest'] as Surface[]) {
    const row = rowOf('page25', surface);
    lines.push({
      goal: `p99 < 50 ms, page25 at ${settings.connections} connections, ${surface}`,
      figure: row ? `${row.p99Ms} ms` : 'not measured',
      met: row ? row.p99Ms < 50 : null,
    });
  }
  const ours = rows.filter((row) => row.surface === 'graphql' || row.surface === 'rest');
  const rss = ours[0]?.peakRssMb ?? null;
  lines.push({ goal: 'peak RSS < 300 MB (gateway)', figure: rss === null ? 'not measured' : `${rss} MB`, met: rss === null ? null : rss < 300 });
  const worst = ours.reduce<Row | null>((top, row) => (!top || row.statementsPerRequest > top.statementsPerRequest ? row : top), null);
  lines.push({
    goal: 'SQL statements per request ≤ 2 (gateway, every workload)',
    figure: worst ? `at most ${worst.statementsPerRequest} (${worst.workload} ${worst.surface})` : 'not measured',
    met: worst ? worst.statementsPerRequest <= 2 : null,
  });
  return lines;
}

function table(rows: Row[], kind: string): string {
  const lines = [
    `Database: ${kind}; ${settings.connections} connections, ${settings.warmup} s warm-up + ${settings.duration} s measured, ` +
      `median of ${settings.rounds} round(s); load generator and servers share the machine's cores.`,
    '',
    '| workload | surface | req/s | p50 ms | p99 ms | SQL/request | server CPU ms/request | peak RSS MB | × floor | req/s per round |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.workload} | ${row.surface} | ${row.reqPerSec} | ${row.p50Ms} | ${row.p99Ms} | ${row.statementsPerRequest} | ${row.cpuMsPerRequest} | ${row.peakRssMb} | ${row.ratioToFloor ?? '–'} | ${row.rounds.join(', ')} |`,
    );
  }
  return lines.join('\n');
}

function ratioTable(
  ratios: { workload: Workload; graphqlToPostgraphile: number | null; restToGraphql: number | null }[],
  rowOf: (workload: Workload, surface: Surface) => Row | undefined,
  ratio: (a?: Row, b?: Row) => number | null,
): string {
  const lines = ['| workload | ours GraphQL / PostGraphile | ours REST / ours GraphQL |', '|---|---:|---:|'];
  for (const line of ratios) {
    lines.push(`| ${line.workload} | ${line.graphqlToPostgraphile ?? '–'} | ${line.restToGraphql ?? '–'} |`);
  }
  const idem = ratio(rowOf('triggerIdem', 'rest'), rowOf('trigger', 'rest'));
  if (idem !== null) lines.push('', `REST trigger with an Idempotency-Key / plain REST trigger: ${idem}`);
  return lines.join('\n');
}

function budgetTable(lines: BudgetLine[]): string {
  const out = ['Budget check:', '', '| goal | figure | met? |', '|---|---|---|'];
  for (const line of lines) out.push(`| ${line.goal} | ${line.figure} | ${line.met === null ? '–' : line.met ? 'met' : '**missed**'} |`);
  return out.join('\n');
}

await main();
