// A database outage, staged with a TCP proxy on loopback between the app and a fresh
// PostgreSQL database: while it is cut (connections refused) or stalled (connections
// accepted, never answered), requests on both surfaces fail fast with 503
// DATABASE_UNAVAILABLE and /readyz says not ready; once it is restored, the same app
// serves again by itself. PostgreSQL only: the embedded database has no network to cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/database/client.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { databaseTargets, openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import { only } from '../support/items.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { graphqlErrorProblems, graphqlRequest, JSON_API, leaksIn, rest, restErrorProblems, send, type RawResponse } from './support.ts';

const postgres = databaseTargets().find((target) => target.name === 'postgresql');
if (!postgres) console.warn('[outage] TEST_DATABASE_URL is not set: the database outage tests are skipped (PostgreSQL only)');

/** Fails fast: the pool gives up connecting after 3 s; this is the bound, not a timing. */
const FAST_MS = 4_500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!postgres)('a database outage on PostgreSQL', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let proxied: Database;
  let app: App;
  let key: string;

  beforeAll(async () => {
    db = await openTestDatabase(postgres!);
    key = (await createTestTenant(db)).key;
    const direct = new URL(db.url!);
    proxy = await startTcpProxy(Number(direct.port || 5432), direct.hostname);
    const viaProxy = new URL(db.url!);
    viaProxy.port = String(proxy.port);
    proxied = await openDatabase({ databaseUrl: viaProxy.toString(), poolSize: 4 });
    app = createApp({ db: proxied });
  });
  afterAll(async () => {
    proxy?.restore();
    await proxied?.close().catch(() => {});
    await proxy?.close();
    await db?.close();
  });

  const requests = {
    restRead: () => rest(app, 'GET', '/public/v2/flows', key),
    restWrite: () => rest(app, 'POST', '/public/v2/flows', key, { data: { type: 'flows', attributes: { name: 'during the outage' } } }),
    graphql: () => graphqlRequest(app, key, { query: '{ flows(first: 5) { totalCount } }' }),
    readyz: () => send(app, { method: 'GET', path: '/readyz' }),
  };

  async function timed(request: () => Promise<RawResponse>) {
    const started = performance.now();
    const response = await request();
    return { response, ms: performance.now() - started };
  }

  async function allServing() {
    const [restRead, graphql, readyz] = await Promise.all([requests.restRead(), requests.graphql(), requests.readyz()]);
    const graphqlServed = graphql.status === 200 && !(graphql.json as { errors?: unknown }).errors;
    return restRead.status === 200 && graphqlServed && readyz.status === 200;
  }

  it.each(['cut', 'stall'] as const)(
    'while the proxy is %s: 503 DATABASE_UNAVAILABLE fast on both surfaces, /readyz 503; then it recovers by itself',
    async (outage) => {
      expect(await allServing()).toBe(true);
      const flowsBefore = only(await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM "Flow"')).n;

      proxy[outage]();
      // Side by side, so that the stalled case costs one connection timeout, not four.
      const [restRead, restWrite, graphql, readyz] = await Promise.all([
        timed(requests.restRead),
        timed(requests.restWrite),
        timed(requests.graphql),
        timed(requests.readyz),
      ]);
      console.log(
        `[outage ${outage}] answered in ms: REST read ${restRead.ms.toFixed(0)}, REST write ${restWrite.ms.toFixed(0)}, ` +
          `GraphQL ${graphql.ms.toFixed(0)}, /readyz ${readyz.ms.toFixed(0)}`,
      );
      for (const { response, ms } of [restRead, restWrite]) {
        expect(response.status).toBe(503);
        expect(response.headers.get('content-type')).toBe(JSON_API);
        expect(restErrorProblems(response)).toEqual([]);
        expect(response.json).toMatchObject({ errors: [{ status: '503', code: 'DATABASE_UNAVAILABLE' }] });
        expect(leaksIn(response.text)).toEqual([]);
        expect(ms).toBeLessThan(FAST_MS);
      }
      expect(graphql.response.status).toBe(503);
      expect(graphqlErrorProblems(graphql.response)).toEqual([]);
      expect(graphql.response.json).toMatchObject({ errors: [{ extensions: { code: 'DATABASE_UNAVAILABLE' } }] });
      expect(leaksIn(graphql.response.text)).toEqual([]);
      expect(graphql.ms).toBeLessThan(FAST_MS);
      expect(readyz.response.status).toBe(503);
      expect(readyz.response.json).toEqual({ status: 'not ready', database: 'down' });
      expect(readyz.ms).toBeLessThan(FAST_MS);
      // A second round while still down: just as fast (nothing queues up behind the first).
      const again = await timed(requests.graphql);
      expect(again.response.status).toBe(503);
      expect(again.ms).toBeLessThan(FAST_MS);
      // Liveness does not depend on the database.
      expect((await send(app, { method: 'GET', path: '/healthz' })).status).toBe(200);

      proxy.restore();
      const deadline = Date.now() + 20_000;
      let serving = await allServing();
      while (!serving && Date.now() < deadline) {
        await sleep(250);
        serving = await allServing();
      }
      expect(serving).toBe(true);
      const created = await requests.restWrite();
      expect(created.status).toBe(201);
      // The write refused during the outage left nothing behind; the one after it did.
      const flowsAfter = only(await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM "Flow"')).n;
      expect(Number(flowsAfter)).toBe(Number(flowsBefore) + 1);
    },
  );
});
