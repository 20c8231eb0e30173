// Start-up time and memory at rest of the service, compiled (`npm start`: node dist/server.js,
// heap cap included) against the sources under tsx (`npx tsx src/server.ts`, the old way).
//
//   npm run build && node --import tsx bench/start-up.ts [--runs 5] [--database-url postgresql://…]
//
// Each run starts the service on an existing, migrated database (the embedded one in a
// temporary DATA_DIR prepared once, or the PostgreSQL database given), polls GET /healthz
// every 25 ms and notes when the readiness log line ('listening') is written and when /healthz first answers
// 200; two seconds later it reads the RSS of every process of the command (npx and tsx start
// processes of their own) and stops it with SIGTERM, waiting until all of them are gone. The two ways alternate, run after run,
// so that a change in the machine's load falls on both. Medians are printed as JSON.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { at, defined } from '../test/support/items.js';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'database-url': { type: 'string' } } });
const runs = Number(values.runs);
const databaseUrl = values['database-url'];

const WAYS = {
  'npm start (node dist/server.js)': [process.execPath, '--max-old-space-size=256', 'dist/server.js'],
  'npx tsx src/server.ts': ['npx', 'tsx', 'src/server.ts'],
} as const;
type Way = keyof typeof WAYS;

interface Run {
  readyLineMs: number;
  healthzMs: number;
  rssMb: number;
  serverRssMb: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every descendant of pid, from /proc (Linux). */
function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (child === undefined || parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const all: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  return all;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : 0;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to the command's process group (npx's server outlives npx), then waits for all of it. */
async function stop(child: ChildProcess, pids: number[]) {
  process.kill(-child.pid!, 'SIGTERM');
  const deadline = performance.now() + 20_000;
  while (pids.some(alive)) {
    if (performance.now() > deadline) process.kill(-child.pid!, 'SIGKILL');
    await sleep(50);
  }
}

async function once(way: Way, env: Record<string, string>, port: number): Promise<Run> {
  const [command, ...args] = WAYS[way];
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: root,
    // info: readiness is the 'listening' log line.
    env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  let readyLineMs = NaN;
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
    if (Number.isNaN(readyLineMs) && /"msg":"listening"/.test(output)) readyLineMs = performance.now() - started;
  });
  let healthzMs = NaN;
  while (Number.isNaN(healthzMs)) {
    if (child.exitCode !== null) throw new Error(`${way} exited with ${child.exitCode}:\n${output}`);
    if (performance.now() - started > 120_000) throw new Error(`${way}: no 200 from /healthz within 120 s`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ok) healthzMs = performance.now() - started;
    else await sleep(25);
  }
  await sleep(2_000);
  const pids = [child.pid!, ...descendants(child.pid!)];
  const sizes = await Promise.all(pids.map(rssMb));
  const run = { readyLineMs, healthzMs, rssMb: sizes.reduce((a, b) => a + b, 0), serverRssMb: Math.max(...sizes) };
  await stop(child, pids);
  return run;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? at(sorted, mid) : (at(sorted, mid - 1) + at(sorted, mid)) / 2;
};

let dataDir: string | undefined;
let env: Record<string, string>;
if (databaseUrl) {
  env = { DATABASE_URL: databaseUrl };
} else {
  dataDir = await mkdtemp(join(tmpdir(), 'flowgw-start-up-'));
  env = { DATA_DIR: dataDir };
}
// A first start migrates (and on the embedded database creates and seeds it): not measured.
let port = 29310; // below the ephemeral range, where servers listening on port 0 land
await once('npm start (node dist/server.js)', env, port++);

const results: Record<string, Run[]> = Object.fromEntries(Object.keys(WAYS).map((way) => [way, []]));
for (let round = 0; round < runs; round++) {
  for (const way of Object.keys(WAYS) as Way[]) {
    const run = await once(way, env, port++);
    defined(results[way], way).push(run);
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ')[0];
    console.error(`${way} #${round + 1}: ${JSON.stringify(run)} load ${load}`);
  }
}
if (dataDir) await rm(dataDir, { recursive: true, force: true });

const round1 = (x: number) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify(
    {
      database: databaseUrl ? 'postgresql' : 'embedded',
      runs,
      medians: Object.fromEntries(
        Object.entries(results).map(([way, rs]) => [
          way,
          {
            readyLineMs: Math.round(median(rs.map((r) => r.readyLineMs))),
            healthzMs: Math.round(median(rs.map((r) => r.healthzMs))),
            rssMb: round1(median(rs.map((r) => r.rssMb))),
            serverRssMb: round1(median(rs.map((r) => r.serverRssMb))),
          },
        ]),
      ),
    },
    null,
    2,
  ),
);
