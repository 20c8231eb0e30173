// The service as an operator runs it: `src/server.ts` in a process of its own, started
// as `npm start` starts it, with the test's environment on top of a clean one.
import { type ChildProcess, spawn } from 'node:child_process';

export interface ServerProcess {
  process: ChildProcess;
  port: number;
  base: string;
  output(): { stdout: string; stderr: string };
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

/** Starts the server and resolves once it has printed its address. */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 45_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: serviceEnvironment({ PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server printed no address within ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
    const look = () => {
      const match = /Flow-run gateway on http:\/\/localhost:(\d+)\/graphql/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    };
    child.stdout!.on('data', look);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited early (${code ?? signal}):\n${stdout}\n${stderr}`));
    });
  });
  return { process: child, port, base: `http://127.0.0.1:${port}`, output: () => ({ stdout, stderr }), exited };
}
