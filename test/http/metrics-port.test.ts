// METRICS_PORT: /metrics moves to a listener of its own (bound to HOST) and the main port,
// the one clients reach, no longer serves it. In process, then as the operator runs it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config.ts';
import { createApp } from '../../src/http/app.ts';
import { serveMetrics } from '../../src/http/metrics-endpoint.ts';
import { openTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

describe('metrics on a port of their own', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
  });
  afterAll(() => db?.close());

  it('reads METRICS_PORT, refusing a port out of range or the main one', () => {
    expect(readConfig({}).metricsPort).toBeUndefined();
    expect(readConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(() => readConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT must be a whole number from 0 to 65535/);
    expect(() => readConfig({ PORT: '4000', METRICS_PORT: '4000' })).toThrow(/METRICS_PORT must differ from PORT/);
  });

  it('the app answers /metrics with 404 when they are served elsewhere, and the metrics listener serves only them', async () => {
    const app = createApp({ db, metricsRoute: false });
    const onMain = await app.fetch(new Request('http://test/metrics'));
    expect(onMain.status).toBe(404);
    expect(await onMain.json()).toMatchObject({ errors: [{ extensions: { code: 'ROUTE_NOT_FOUND' } }] });
    // The app still counts its requests: the separate listener serves the same registry.
    await app.fetch(new Request('http://test/healthz'));

    const listener = await serveMetrics({ metrics: app.metrics, port: 0, host: '127.0.0.1', token: 't0k3n' });
    try {
      const base = `http://127.0.0.1:${listener.port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const scraped = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer t0k3n' } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(/^http_requests_total\{surface="other",route="\/healthz",method="GET",status="200"\} 1$/m);
      const elsewhere = await fetch(`${base}/graphql`, { method: 'POST', headers: { authorization: 'Bearer t0k3n' } });
      expect(elsewhere.status).toBe(404);
      expect((await fetch(`${base}/metrics`, { method: 'POST', headers: { authorization: 'Bearer t0k3n' } })).status).toBe(405);
    } finally {
      await listener.close();
    }
  });

  describe('as a process', () => {
    let parent: string;
    let server: ServerProcess | undefined;
    beforeAll(async () => {
      parent = await mkdtemp(join(tmpdir(), 'frg-metrics-port-'));
    });
    afterAll(async () => {
      if (server && server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
      await rm(parent, { recursive: true, force: true });
    });

    it('with METRICS_PORT set, serves /metrics on that port only, bound to HOST, and closes it on stop', async () => {
      server = await startServerProcess({ DATA_DIR: join(parent, 'db'), HOST: '127.0.0.1', METRICS_PORT: '0' });
      const announced = server.log().find((line) => line.msg === 'metrics listening');
      expect(announced).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/) });
      const metricsPort = announced!.port as number;
      expect(metricsPort).not.toBe(server.port);

      expect((await fetch(`${server.base}/metrics`)).status).toBe(404);
      const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toMatch(/^http_requests_total\{surface="other",route="\/metrics",method="GET",status="404"\} 1$/m);
      // Bound to HOST: another loopback address finds nothing listening there.
      await expect(fetch(`http://127.0.0.2:${metricsPort}/metrics`)).rejects.toThrow();

      server.process.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
    }, 120_000);
  });
});
