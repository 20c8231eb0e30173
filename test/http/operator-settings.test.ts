// What an operator sets: the bind address, the pool size, GraphiQL on or off, a token in
// front of /metrics; read from the environment once, refused when malformed.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config.ts';
import { createApp } from '../../src/http/app.ts';
import { openTestDatabase, type TestDatabase } from '../support/database.ts';
import { logLines, serviceEnvironment } from '../support/server-process.ts';

describe('operator settings', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
  });
  afterAll(() => db?.close());

  it('reads HOST, DATABASE_POOL_SIZE, GRAPHIQL and METRICS_TOKEN, with their defaults', () => {
    // The embedded demo stays on this machine; a service on PostgreSQL listens on every interface.
    expect(readConfig({})).toMatchObject({ host: '127.0.0.1', databasePoolSize: 10, graphiql: undefined, metricsToken: undefined });
    expect(readConfig({ DATABASE_URL: 'postgresql://db/flowruns' }).host).toBeUndefined();
    expect(readConfig({ HOST: ' 0.0.0.0 ' }).host).toBe('0.0.0.0');
    expect(readConfig({ HOST: '::', DATABASE_URL: 'postgresql://db/flowruns' }).host).toBe('::');
    expect(readConfig({ HOST: '127.0.0.1', DATABASE_POOL_SIZE: '25', GRAPHIQL: 'false', METRICS_TOKEN: 't0k3n' })).toMatchObject({
      host: '127.0.0.1',
      databasePoolSize: 25,
      graphiql: false,
      metricsToken: 't0k3n',
    });
    expect(readConfig({ GRAPHIQL: 'true' }).graphiql).toBe(true);
    expect(() => readConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE must be a whole number from 1/);
    expect(() => readConfig({ GRAPHIQL: 'maybe' })).toThrow(/GRAPHIQL must be true or false/);
    expect(readConfig({ LOG_LEVEL: ' Debug ' }).logLevel).toBe('debug');
    expect(() => readConfig({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of fatal, error/);
  });

  it('answers /metrics only with the token when one is set', async () => {
    const app = createApp({ db, metricsToken: 't0k3n' });
    const elsewhere = { remoteAddress: '192.0.2.2' };
    const metrics = (authorization?: string) =>
      app.fetch(new Request('http://test/metrics', { headers: authorization ? { authorization } : {} }), elsewhere);
    expect((await metrics()).status).toBe(401);
    expect((await metrics('Bearer wrong')).status).toBe(401);
    expect((await metrics('t0k3n')).status).toBe(401);
    const allowed = await metrics('Bearer t0k3n');
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toMatch(/^# HELP /m);
    // Without a token it answers this machine only (test/http/local-clients.test.ts).
    const open = createApp({ db });
    expect((await open.fetch(new Request('http://test/metrics'), { remoteAddress: '127.0.0.1' })).status).toBe(200);
    expect((await open.fetch(new Request('http://test/metrics'), elsewhere)).status).toBe(403);
  });

  it('serves GraphiQL to a browser unless it is turned off', async () => {
    const page = (graphiql?: boolean) => createApp({ db, graphiql }).fetch(new Request('http://test/graphql', { headers: { accept: 'text/html' } }));
    const on = await page();
    expect(on.headers.get('content-type')).toMatch(/text\/html/);
    expect(await on.text()).toMatch(/graphiql/i);
    const off = await page(false);
    expect(off.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(off.status).toBeLessThan(500);
  });

  it.each([
    [{ DATABASE_POOL_SIZE: '0', LOG_LEVEL: 'info' }, /^DATABASE_POOL_SIZE must be a whole number/],
    [{ LOG_LEVEL: 'verbose' }, /^LOG_LEVEL must be one of/],
  ])(
    'a setting out of range stops the server at start: one fatal JSON line naming it, exit code 1 (%o)',
    async (settings, message) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        env: serviceEnvironment({ PORT: '4000', ...settings }),
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      const [line, ...others] = logLines(stdout);
      expect(others).toEqual([]);
      expect(line).toMatchObject({ level: 60, service: 'flow-run-gateway', msg: expect.stringMatching(message) });
    },
    60_000,
  );
});
