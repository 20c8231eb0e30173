// The service as an operator runs it: `src/server.ts` in a process of its own, started
// as `npm start` starts it, with the test's environment on top of a clean one. It is
// ready when it logs `listening` (its log is JSON lines on stdout, at LOG_LEVEL=info here).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestTenant, openTestDatabase, type Target } from './database.ts';

/** One line of the service's JSON log (pino). */
export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [field: string]: unknown;
}

/**
 * The JSON log lines in `stdout`. A line that is not JSON throws: the service writes
 * nothing else there.
 */
export function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON log line on stdout: ${line}`);
      }
    });
}

/** The first complete log line with message `msg` (lines still being written are skipped). */
export function findLogLine(stdout: string, msg: string): LogLine | undefined {
  const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
  return logLines(complete).find((line) => line.msg === msg);
}

export interface ServerProcess {
  process: ChildProcess;
  port: number;
  base: string;
  output(): { stdout: string; stderr: string };
  /** The log so far, parsed. */
  log(): LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * This process's environment with `env` on top, less the database and Redis settings the
 * test did not give: a spawned command uses exactly what the test names.
 */
export function serviceEnvironment(env: Record<string, string>): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'TEST_DATABASE_URL'] as const) {
    if (!(name in env)) delete environment[name];
  }
  return environment;
}

/**
 * Starts the server and resolves once it has logged that it listens (and on which port).
 * The embedded database takes long to start on a loaded machine: hence the generous wait.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 90_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    // info: the start and stop events are info lines (vitest runs with LOG_LEVEL=silent).
    env: serviceEnvironment({ PORT: '0', LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': by then everything it wrote to stdout has been read.
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server logged no 'listening' within ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
    const look = () => {
      let listening: LogLine | undefined;
      try {
        listening = findLogLine(stdout, 'listening');
      } catch (error) {
        clearTimeout(timer);
        return reject(error);
      }
      if (!listening) return;
      clearTimeout(timer);
      resolve(listening.port as number);
    };
    child.stdout!.on('data', look);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited early (${code ?? signal}):\n${stdout}\n${stderr}`));
    });
  });
  return { process: child, port, base: `http://127.0.0.1:${port}`, output: () => ({ stdout, stderr }), log: () => logLines(stdout), exited };
}

export interface ServerOnTarget {
  server: ServerProcess;
  /** A write key: a new organization's on PostgreSQL, the seeded demo key on the embedded database. */
  key: string;
  /** Kills the server if it still runs, then drops its database or removes its data folder. */
  dispose(): Promise<void>;
}

/** The server process on a test target with `env` on top: its own PostgreSQL database, or a fresh data folder. */
export async function startServerOnTarget(target: Target, env: Record<string, string>): Promise<ServerOnTarget> {
  let server: ServerProcess | undefined;
  const kill = () => {
    if (server && server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
  };
  if (target.name === 'postgresql') {
    const db = await openTestDatabase(target);
    const { key } = await createTestTenant(db);
    server = await startServerProcess({ ...env, DATABASE_URL: db.url! });
    return {
      server,
      key,
      async dispose() {
        kill();
        await db.close();
      },
    };
  }
  const parent = await mkdtemp(join(tmpdir(), 'frg-server-'));
  const dataDir = join(parent, 'db');
  server = await startServerProcess({ ...env, DATA_DIR: dataDir });
  const key = (await readFile(join(dataDir, 'demo-api-key'), 'utf8')).trim();
  return {
    server,
    key,
    async dispose() {
      kill();
      await rm(parent, { recursive: true, force: true });
    },
  };
}
