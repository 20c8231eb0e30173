// The image's final stage, replayed without a container engine: the files it copies go
// into an empty directory, its npm commands install the production dependencies there
// (from npm's cache, filled by the full `npm ci`), and then its CMD must serve, its
// health check pass, and the commands operators run on it (compose's migrate step, the
// CLI) work. A runtime import of a dev dependency (tsx, the Prisma CLI, TypeScript) or a
// file the image leaves out fails here.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/database/migrations.ts';
import { createScratchDatabase } from '../support/database.ts';
import { at, defined } from '../support/items.ts';
import { findLogLine } from '../support/server-process.ts';
import { execForm, instructions, parseCopy, parseEnv, readCompose, readDockerfile, ROOT, runCommands } from './container-files.ts';

const stages = readDockerfile();
const build = at(stages, 0, 'Dockerfile stage');
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
    const child = spawn(at(command, 0, 'program'), command.slice(1), {
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
        const path = copy.from ? source.replace(`${at(instructions(build, 'WORKDIR'), 0, 'WORKDIR')}/`, '') : source;
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
    // On disk: some packages (the schema engine) do not export their package.json.
    const installed = (name: string) => existsSync(join(app, 'node_modules', name, 'package.json'));
    for (const devOnly of ['tsx', 'prisma', 'typescript', 'vitest', '@prisma/schema-engine-wasm']) expect(installed(devOnly), devOnly).toBe(false);
    for (const runtime of ['graphql-yoga', '@prisma/client', 'pg']) expect(installed(runtime), runtime).toBe(true);
  });

  // One database for the steps below, as compose gives its migrate service and gateways:
  // a fresh one on PostgreSQL when TEST_DATABASE_URL is set, else an embedded one.
  let database: Record<string, string>;
  let scratch: { url: string; drop(): Promise<void> } | undefined;
  beforeAll(async () => {
    if (process.env.TEST_DATABASE_URL) {
      scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL);
      database = { DATABASE_URL: scratch.url };
    } else {
      database = { DATA_DIR: join(app, '.data') };
    }
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  it("runs compose's migrate command and the CLI on a fresh database", async () => {
    const migrate = await inImage(defined(readCompose().services.migrate?.command, 'the migrate command'), database);
    expect(migrate.code, migrate.output).toBe(0);
    expect(migrate.output).toContain(`applied ${(await readMigrations()).length} migration(s)`);
    const cli = await inImage(['npm', 'run', '--silent', 'cli', '--', 'org', 'create', 'Image test'], database);
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output.trim().split('\n').at(-1)).toMatch(/^[0-9a-f-]{36}$/);
  }, 180_000);

  it("serves with its CMD as compose's gateways run it, after the migrate step, and its health check passes", async () => {
    const gateway = Object.entries(readCompose().services).find(([name]) => name.startsWith('gateway'))![1];
    const command = at(instructions(final, 'CMD').map(execForm), 0, 'CMD');
    const child = spawn(at(command, 0, 'program'), command.slice(1), {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        ...imageEnv,
        MIGRATE_ON_START: gateway.environment!.MIGRATE_ON_START,
        ...database,
        PORT: '0',
        // info: readiness is the 'listening' line.
        LOG_LEVEL: 'info',
      },
    });
    try {
      let output = '';
      let errors = '';
      child.stderr.on('data', (chunk: Buffer) => {
        errors += chunk.toString();
      });
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const listening = findLogLine(output, 'listening');
          if (listening) resolve(listening.port as number);
        });
        child.once('exit', (code) => reject(new Error(`the image's CMD exited (${code}):\n${output}\n${errors}`)));
      });
      // The image's HOST: every interface, so a published port reaches it.
      expect(findLogLine(output, 'listening')).toMatchObject({ host: '0.0.0.0' });
      // Ready only because the migrate step ran: this instance does not migrate.
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status, await ready.clone().text()).toBe(200);
      const healthcheck = at(instructions(final, 'HEALTHCHECK'), 0, 'HEALTHCHECK');
      const check = await inImage(execForm(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()), { PORT: String(port) });
      expect(check.code, check.output).toBe(0);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }, 180_000);
});
