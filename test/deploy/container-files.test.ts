// The Dockerfile and compose.yaml cannot be built here (no container engine), so they are
// held to what is tested: their commands must be the ones package.json and CI run, what
// they copy must exist and be what the build reads and writes, their settings must be
// ones the service reads, and the image's health check is run against a live server.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config.ts';
import { MIGRATIONS_DIR } from '../../src/database/migrations.ts';
import { type ServerProcess, startServerProcess } from '../support/server-process.ts';
import { at, captured, defined } from '../support/items.ts';
import {
  dockerIgnores,
  execForm,
  instructions,
  parseCopy,
  parseEnv,
  readCompose,
  readDockerfile,
  readPackageJson,
  ROOT,
  runCommands,
  satisfiesEngines,
  variablesTheServiceReads,
} from './container-files.ts';

const stages = readDockerfile();
const build = at(stages, 0, 'Dockerfile stage');
const final = stages.at(-1)!;
const packageJson = readPackageJson();
const tsconfigBuild = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
  extends: string;
  include: string[];
  compilerOptions: { outDir: string };
};
const outDir = tsconfigBuild.compilerOptions.outDir;
const finalEnv = parseEnv(instructions(final, 'ENV'));
const compose = readCompose();
const gateways = Object.entries(compose.services).filter(([name]) => name.startsWith('gateway'));

/** An npm script of package.json. */
function script(name: string): string {
  return defined(packageJson.scripts[name], `npm script ${name}`);
}

/** The words of an npm script, `${VAR:-default}` taken at its default. */
function scriptWords(name: string): string[] {
  return script(name)
    .replace(/\$\{\w+:-([^}]*)\}/g, '$1')
    .split(/\s+/);
}

function run(command: string[], env: Record<string, string>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(at(command, 0, 'program'), command.slice(1), { env: { PATH: process.env.PATH, ...env }, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

describe('Dockerfile', () => {
  it('builds on a Node version that package.json engines accept, in both stages', () => {
    for (const stage of stages) {
      const version = /^node:(\d+\.\d+)/.exec(stage.from)?.[1];
      expect(version, stage.from).toBeDefined();
      expect(satisfiesEngines(version!, packageJson.engines.node), `${stage.from} vs ${packageJson.engines.node}`).toBe(true);
    }
  });

  it('installs in the build stage as CI does, with everything the postinstall build reads copied in first', () => {
    expect(runCommands(build)).toContain('npm ci');
    expect(readFileSync(join(ROOT, '.ci/run'), 'utf8')).toMatch(/^npm ci$/m);
    // npm ci's postinstall generates the client from the schema and compiles with tsconfig.build.json.
    expect(packageJson.scripts.postinstall).toBe('node scripts/postinstall.mjs');
    const postinstall = readFileSync(join(ROOT, 'scripts/postinstall.mjs'), 'utf8');
    expect(postinstall).toContain("['generate', 'build']");
    const schema = captured(/--schema (\S+)/, script('generate'));
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
    const needed = [
      'package.json',
      'package-lock.json',
      'scripts/postinstall.mjs',
      schema,
      'tsconfig.build.json',
      tsconfigBuild.extends,
      ...tsconfigBuild.include,
    ];
    const copiedBeforeInstall = build.instructions
      .slice(
        0,
        build.instructions.findIndex((i) => i.keyword === 'RUN' && i.args.includes('npm ci')),
      )
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => parseCopy(i.args).sources.map((source) => source.replace(/\/$/, '')));
    for (const path of needed.map((p) => p.replace(/^\.\//, ''))) {
      const copied = copiedBeforeInstall.some((source) => path === source || path.startsWith(`${source}/`));
      expect(copied, `${path} is copied before npm ci`).toBe(true);
    }
  });

  it('keeps in the final stage production dependencies, the compiled service and the migrations, run as a non-root user', () => {
    const install = runCommands(final).find((command) => command.startsWith('npm ci'));
    expect(install?.split(/\s+/)).toEqual(expect.arrayContaining(['npm', 'ci', '--omit=dev']));
    const copies = instructions(final, 'COPY').map(parseCopy);
    const fromBuild = copies.filter((copy) => copy.from === build.name);
    expect(fromBuild.map((copy) => copy.sources)).toEqual([[`/app/${outDir}/`]]);
    const migrations = relative(ROOT, MIGRATIONS_DIR);
    expect(copies.some((copy) => !copy.from && copy.sources.includes(`${migrations}/`))).toBe(true);
    // Nothing of the build stage's tools or sources.
    expect(copies.flatMap((copy) => copy.sources).filter((source) => /node_modules|^src/.test(source))).toEqual([]);
    const user = instructions(final, 'USER');
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('starts the compiled service as npm start does, with the same heap cap', () => {
    const cmd = at(instructions(final, 'CMD').map(execForm), 0, 'CMD');
    const start = scriptWords('start');
    expect(cmd).toEqual(['node', start.at(-1)]);
    expect(cmd[1]).toBe(`${outDir}/server.js`);
    expect(existsSync(join(ROOT, 'src/server.ts'))).toBe(true);
    // npm ci built it here, as the build stage does.
    expect(existsSync(join(ROOT, at(cmd, 1))), `${cmd[1]} after npm run build`).toBe(true);
    const heapCap = start.find((word) => word.startsWith('--max-old-space-size='));
    expect(heapCap).toBeDefined();
    expect(finalEnv.NODE_OPTIONS).toBe(heapCap);
  });

  it('listens on every interface of the container, on PostgreSQL and on the embedded demo alike', () => {
    // 127.0.0.1 inside a container is out of reach of a published port.
    expect(finalEnv.HOST).toBe('0.0.0.0');
    expect(readConfig(finalEnv).host).toBe('0.0.0.0');
    expect(readConfig({ ...finalEnv, DATABASE_URL: 'postgresql://postgres@db:5432/flowruns' }).host).toBe('0.0.0.0');
    // Without it, the demo would listen on loopback only (test/http/network-defaults.test.ts).
    expect(readConfig({}).host).toBe('127.0.0.1');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    for (const stage of stages) {
      for (const copy of instructions(stage, 'COPY').map(parseCopy)) {
        if (copy.from) continue;
        for (const source of copy.sources) {
          expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
          expect(dockerIgnores(source), `${source} is not in .dockerignore`).toBe(false);
        }
      }
    }
    // The build must not see a developer's generated client or build output.
    for (const generated of ['node_modules', outDir, 'src/database/generated', '.data']) expect(dockerIgnores(generated), generated).toBe(true);
  });

  describe('health check', () => {
    let server: ServerProcess;
    const healthcheck = () => {
      const args = at(instructions(final, 'HEALTHCHECK'), 0, 'HEALTHCHECK');
      return execForm(args.slice(args.indexOf('CMD') + 'CMD'.length).trim());
    };

    beforeAll(async () => {
      server = await startServerProcess({});
    });
    afterAll(async () => {
      server?.process.kill('SIGTERM');
      await server?.exited;
    });

    it('runs node (the slim image has no curl) and asks /healthz on the port the image sets', () => {
      const command = healthcheck();
      expect(command[0]).toBe('node');
      expect(command.join(' ')).toContain('/healthz');
      expect(command.join(' ')).toContain('process.env.PORT');
      expect(finalEnv.PORT).toBe(String(readConfig({}).port));
      expect(instructions(final, 'EXPOSE')).toEqual([finalEnv.PORT]);
    });

    it('passes against a running server and fails when nothing answers', async () => {
      expect(await run(healthcheck(), { PORT: String(server.port) })).toBe(0);
      const closed = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as { port: number };
          probe.close(() => resolve(port));
        });
      });
      expect(await run(healthcheck(), { PORT: String(closed) })).toBe(1);
    });

    it('fails when the port answers with anything but 200', async () => {
      const unhealthy = createHttpServer((_request, response) => response.writeHead(503).end());
      await new Promise<void>((resolve) => unhealthy.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = unhealthy.address() as { port: number };
        expect(await run(healthcheck(), { PORT: String(port) })).toBe(1);
      } finally {
        unhealthy.close();
      }
    });
  });
});

describe('compose.yaml', () => {
  const migrate = defined(compose.services.migrate, 'the migrate service');

  it('runs the migrations once, as npm run migrate does, before any gateway starts', () => {
    expect(migrate.command).toEqual(scriptWords('migrate'));
    expect(migrate.restart).toBe('no');
    expect(gateways.length).toBeGreaterThanOrEqual(2);
    for (const [name, gateway] of gateways) {
      expect(gateway.depends_on?.migrate, name).toEqual({ condition: 'service_completed_successfully' });
      expect(gateway.environment?.MIGRATE_ON_START, name).toBe('false');
      expect(gateway.environment?.DATABASE_URL, name).toBe(migrate.environment?.DATABASE_URL);
      // The image's own command: npm start's.
      expect(gateway.command, name).toBeUndefined();
    }
  });

  it('runs every service from the Dockerfile or a database image, with nothing in front of the gateways', () => {
    const ours = ['migrate', ...gateways.map(([name]) => name)];
    expect(Object.keys(compose.services).sort()).toEqual(['postgres', 'redis', ...ours].sort());
    const images = new Set(ours.map((name) => compose.services[name]?.image));
    expect(images.size).toBe(1);
    for (const name of ours) expect(compose.services[name]?.build, name).toBe('.');
    expect(migrate.environment?.DATABASE_URL).toMatch(/@postgres:5432\//);
    for (const [name, gateway] of gateways) expect(gateway.environment?.REDIS_URL, name).toBe('redis://redis:6379');
  });

  it('publishes each gateway on a port of its own, mapped to the port the image listens on', () => {
    const hostPorts = gateways.map(([, gateway]) => {
      expect(gateway.ports).toHaveLength(1);
      const [host, container] = at(gateway.ports ?? [], 0, 'port').split(':');
      expect(container).toBe(finalEnv.PORT);
      return host;
    });
    expect(new Set(hostPorts).size).toBe(gateways.length);
    for (const [name, service] of Object.entries(compose.services)) {
      if (!name.startsWith('gateway')) expect(service.ports, name).toBeUndefined();
    }
  });

  it('sets only variables the service reads, to values it accepts, and lets a stopping instance drain', () => {
    const read = variablesTheServiceReads();
    for (const [name, gateway] of gateways) {
      const environment = gateway.environment ?? {};
      for (const variable of Object.keys(environment)) expect(read.has(variable), `${name}: ${variable}`).toBe(true);
      const config = readConfig(environment);
      // Docker sends SIGKILL after stop_grace_period: the delay and the grace must fit in it.
      const grace = /^(\d+)s$/.exec(gateway.stop_grace_period ?? '10s');
      expect(grace, `${name}: stop_grace_period in seconds`).not.toBeNull();
      expect(Number(grace![1]) * 1000, name).toBeGreaterThan(config.shutdownDelayMs + config.shutdownGraceMs);
    }
  });

  it('finds the variables the service reads (so the checks above cannot pass on an empty list)', () => {
    const read = variablesTheServiceReads();
    for (const name of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'MIGRATE_ON_START', 'SHUTDOWN_DELAY_MS', 'LOG_LEVEL'])
      expect(read.has(name), name).toBe(true);
  });
});
