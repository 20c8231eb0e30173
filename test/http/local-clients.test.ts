// "On this machine", as the demo key in GraphiQL and /metrics without a token decide it:
// the TCP peer is loopback, and no header says the request is passed on from elsewhere.
// A header can take a client away from this machine, never bring one onto it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { isLocalBrowser, isLoopbackClient } from '../../src/request/client-connection.ts';
import { openTestDatabase, type TestDatabase } from '../support/database.ts';

const headers = (entries: Record<string, string> = {}) => new Headers({ host: 'localhost:4000', ...entries });

describe('a client on this machine', () => {
  it('is one whose connection comes from a loopback address, IPv4, IPv6 or IPv4-mapped', () => {
    for (const peer of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopbackClient(headers(), { remoteAddress: peer }), peer).toBe(true);
    }
    for (const peer of ['192.0.2.2', '10.0.0.1', 'fd00::2', '::ffff:192.0.2.2', '0.0.0.0', '::', 'not an address', '']) {
      expect(isLoopbackClient(headers(), { remoteAddress: peer }), peer).toBe(false);
    }
    // Unknown: the app called in process, or a socket already gone.
    expect(isLoopbackClient(headers(), undefined)).toBe(false);
    expect(isLoopbackClient(headers(), {})).toBe(false);
  });

  it('is not made by a header naming loopback, and is undone by one naming anything else', () => {
    const remote = { remoteAddress: '192.0.2.2' };
    const loopback = { remoteAddress: '127.0.0.1' };
    expect(isLoopbackClient(headers({ 'x-forwarded-for': '127.0.0.1' }), remote)).toBe(false);
    expect(isLoopbackClient(headers({ forwarded: 'for=127.0.0.1' }), remote)).toBe(false);

    expect(isLoopbackClient(headers({ 'x-forwarded-for': '127.0.0.1, ::1' }), loopback)).toBe(true);
    expect(isLoopbackClient(headers({ forwarded: 'for="[::1]:51000";proto=http' }), loopback)).toBe(true);
    const elsewhere: Record<string, string>[] = [
      { 'x-forwarded-for': '203.0.113.7' },
      { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' },
      { 'x-real-ip': '203.0.113.7' },
      { forwarded: 'for=203.0.113.7' },
      { forwarded: 'for=127.0.0.1, for="[2001:db8::1]:4711"' },
      { forwarded: 'for=unknown' },
      { forwarded: 'for=_hidden' },
      { 'x-forwarded-for': '' },
    ];
    for (const forwarded of elsewhere) {
      expect(isLoopbackClient(headers(forwarded), loopback), JSON.stringify(forwarded)).toBe(false);
    }
  });

  it('is a local browser only when it called the service by a loopback name, from no other origin', () => {
    const loopback = { remoteAddress: '127.0.0.1' };
    for (const host of ['localhost:4000', 'localhost', 'LOCALHOST:4000', 'app.localhost:4000', '127.0.0.1:4000', '[::1]:4000']) {
      expect(isLocalBrowser(new Headers({ host }), loopback), host).toBe(true);
    }
    for (const host of ['rebound.example:4000', 'localhost.example:4000', '192.0.2.2:4000', '']) {
      expect(isLocalBrowser(new Headers(host ? { host } : {}), loopback), host).toBe(false);
    }
    expect(isLocalBrowser(headers({ origin: 'http://localhost:4000' }), loopback)).toBe(true);
    expect(isLocalBrowser(headers({ origin: 'http://evil.example' }), loopback)).toBe(false);
    expect(isLocalBrowser(headers({ origin: 'null' }), loopback)).toBe(false);
    expect(isLocalBrowser(headers(), { remoteAddress: '192.0.2.2' })).toBe(false);
  });
});

describe('what the app gives a client by where it is', () => {
  let db: TestDatabase;
  const demoKey = 'frg_demo_local_only';
  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
  });
  afterAll(() => db?.close());

  const page = (app: ReturnType<typeof createApp>, remoteAddress?: string, host = 'localhost:4000') =>
    app.fetch(
      new Request(`http://${host}/graphql`, { headers: { accept: 'text/html', host } }),
      remoteAddress === undefined ? undefined : { remoteAddress },
    );

  it('fills GraphiQL in with the headers for a local browser only', async () => {
    const app = createApp({ db, graphiqlHeaders: { Authorization: demoKey } });
    expect(await (await page(app, '127.0.0.1')).text()).toContain(demoKey);
    for (const [peer, host] of [
      ['192.0.2.2', 'localhost:4000'],
      ['192.0.2.2', '192.0.2.2:4000'],
      [undefined, 'localhost:4000'],
      ['127.0.0.1', 'rebound.example:4000'],
    ] as const) {
      const answer = await page(app, peer, host);
      expect(answer.status).toBe(200);
      const text = await answer.text();
      expect(text, `${peer} ${host}`).toContain('graphiql-config');
      expect(text, `${peer} ${host}`).not.toContain(demoKey);
    }
  });

  it('answers /metrics without a token to this machine only', async () => {
    const app = createApp({ db });
    const metrics = (connection?: { remoteAddress: string }, headers: Record<string, string> = {}) =>
      app.fetch(new Request('http://localhost/metrics', { headers }), connection);
    expect((await metrics({ remoteAddress: '127.0.0.1' })).status).toBe(200);
    for (const [connection, headers] of [
      [{ remoteAddress: '192.0.2.2' }, {}],
      [undefined, {}],
      [{ remoteAddress: '127.0.0.1' }, { 'x-forwarded-for': '203.0.113.7' }],
    ] as const) {
      const refused = await metrics(connection, headers);
      expect(refused.status).toBe(403);
      const body = await refused.json();
      expect(body).toEqual({
        errors: [
          {
            message: 'metrics are answered only on this machine; set METRICS_TOKEN or METRICS_PORT to scrape them from elsewhere',
            extensions: { code: 'FORBIDDEN' },
          },
        ],
      });
    }
  });

  it('answers /metrics with METRICS_TOKEN to anyone who has it, wherever they are', async () => {
    const app = createApp({ db, metricsToken: 't0k3n' });
    const elsewhere = { remoteAddress: '192.0.2.2' };
    expect((await app.fetch(new Request('http://test/metrics'), elsewhere)).status).toBe(401);
    expect((await app.fetch(new Request('http://test/metrics'), { remoteAddress: '127.0.0.1' })).status).toBe(401);
    expect((await app.fetch(new Request('http://test/metrics', { headers: { authorization: 'Bearer t0k3n' } }), elsewhere)).status).toBe(200);
  });
});
