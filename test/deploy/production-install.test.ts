// The image's final stage, replayed without a container engine: the files it copies go
// into an empty directory, its npm commands install the production dependencies there
// (from npm's cache, filled by the full `npm ci`), and then its CMD must serve, its
// health check pass, and the commands operators run on it (compose's migrate step, the
// CLI) work. A runtime import of a dev dependency (tsx, the Prisma CLI, TypeScript) or a
// file the image leaves out fails here.
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/database/migrations.ts';
import { createScratchDatabase } from '../support/database.ts';
import { execForm, instructions, parseCopy, parseEnv, readCompose, readDockerfile, ROOT, runCommands } from './container-files.ts';

const stages = readDockerfile();
const build = stages[0];
const final = stages.at(-1)!;
const imageEnv = parseEnv(instructions(final, 'ENV'));

let app: string;
let installOutput = '';

interface Result {
  code: number | null;
  output: string;
}

/** Runs a command in the replayed image's directory with the image's environment and `env` on top. */
function inImage(command: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...imageEnv, LOG_LEVEL: 'info', ...env },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), 'frg-image-'));
  const workdir = instructions(final, 'WORKDIR')[0];
  for (const instruction of final.instructions) {
    if (instruction.keyword === 'COPY') {
      const copy = parseCopy(instruction.args);
      // What the build stage made under its WORKDIR, npm ci built here too.
      const base = copy.from === build.name ? ROOT : copy.from ? undefined : ROOT;
      if (!base) throw new Error(`COPY from an unknown stage: ${instruction.args}`);
      for (const source of copy.sources) {
        const path = copy.from ? source.replace(`${instructions(build, 'WORKDIR')[0]}/`, '') : source;
        const target = copy.destination.endsWith('/') && !source.endsWith('/') ? join(app, copy.destination, path) : join(app, copy.destination);
        await mkdir(join(target, '..'), { recursive: true });
        await cp(join(base, path), target, { recursive: true });
      }
    }
  }
  expect(workdir).toBe('/app');
  // The install only: the image's other commands (`npm cache clean`, chown) would act on
  // this machine's own npm cache and users.
  const installs = runCommands(final).filter((command) => /^npm ci\b/.test(command));
  expect(installs).toHaveLength(1);
  for (const command of installs) {
    installOutput += execFileSync('sh', ['-c', `${command} --prefer-offline --no-audit --no-fund`], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'warn' },
    });
  }
}, 300_000);

afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

describe("the image's final stage", () => {
  it('holds production dependencies only, and its install neither generates nor builds', () => {
    expect(installOutput).toContain('postinstall: a production install');
    for (const devOnly of ['tsx', 'prisma', 'typescript', 'vitest', '@prisma/schema-engine-wasm']) {
      expect(() => execFileSync('node', ['-e', `require.resolve('${devOnly}/package.json')`], { cwd: app, stdio: 'ignore' }), devOnly).toThrow();
    }
  });

  it('serves with its CMD, and its health check passes', async () => {
    const dataDir = join(app, '.data');
    const [command] = instructions(final, 'CMD').map(execForm);
    const child = spawn(command[0], command.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH, ...imageEnv, PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    });
    try {
      let output = '';
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /Flow-run gateway on http:\/\/localhost:(\d+)\//.exec(output);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`the image's CMD exited (${code}):\n${output}`)));
      });
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const [healthcheck] = instructions(final, 'HEALTHCHECK');
      const check = await inImage(execForm(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()), { PORT: String(port) });
      expect(check.code, check.output).toBe(0);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }, 120_000);

  it("runs compose's migrate command and the CLI on a fresh database", async () => {
    const env: Record<string, string> = {};
    let scratch: { url: string; drop(): Promise<void> } | undefined;
    if (process.env.TEST_DATABASE_URL) {
      scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL);
      env.DATABASE_URL = scratch.url;
    } else {
      env.DATA_DIR = join(app, 'migrate-data');
    }
    try {
      const migrate = await inImage(readCompose().services.migrate.command!, env);
      expect(migrate.code, migrate.output).toBe(0);
      expect(migrate.output).toContain(`applied ${(await readMigrations()).length} migration(s)`);
      const cli = await inImage(['npm', 'run', '--silent', 'cli', '--', 'org', 'create', 'Image test'], env);
      expect(cli.code, cli.output).toBe(0);
      expect(cli.output.trim().split('\n').at(-1)).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await scratch?.drop();
    }
  }, 120_000);
});
