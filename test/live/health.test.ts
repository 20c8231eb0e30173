// Liveness and readiness: /healthz answers while the process is up; /readyz answers 503
// quickly (never hangs) while the database is away or not fully migrated, and 200 again
// by itself once it is back.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/database/client.ts';
import { readMigrations } from '../../src/database/migrations.ts';
import { createApp, type App } from '../../src/http/app.ts';
import type { Logger } from '../../src/observability/logger.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { defined } from '../support/items.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { sleep } from './live-support.ts';

async function get(app: App, path: string) {
  const response = await app.fetch(new Request(`http://test${path}`));
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as any };
}

/** GET /readyz, with how long the answer took. */
async function ready(app: App) {
  const started = Date.now();
  const result = await get(app, '/readyz');
  return { ...result, ms: Date.now() - started };
}

/** Polls /readyz until it answers `status` (bounded). */
async function readyzUntil(app: App, status: number, ms = 10_000) {
  const deadline = Date.now() + ms;
  let last = await ready(app);
  while (last.status !== status && Date.now() < deadline) {
    await sleep(200);
    last = await ready(app);
  }
  return last;
}

/** A logger writing into memory, and what it wrote. */
function memoryLogger() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream) as unknown as Logger, text: () => text };
}

describe.each(databaseTargets())('health on $name', (target) => {
  let db: TestDatabase;
  let app: App;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
  });
  afterAll(() => db?.close().catch(() => {}));

  it('/healthz: 200 {status: ok}', async () => {
    const health = await get(app, '/healthz');
    expect(health.status).toBe(200);
    expect(health.type).toContain('application/json');
    expect(health.body).toEqual({ status: 'ok' });
  });

  it('/readyz: 200 ready, database up, nothing pending', async () => {
    const readiness = await ready(app);
    expect(readiness.status).toBe(200);
    expect(readiness.type).toContain('application/json');
    expect(readiness.body).toEqual({ status: 'ready', database: 'up', pendingMigrations: [] });
  });

  it("/readyz: the body says what is not ready and nothing more; the driver's error (host, port) goes to the log", async () => {
    const driverMessage = 'connect ECONNREFUSED 10.20.30.40:6543';
    const refused = Object.assign(new Error(driverMessage), { code: 'ECONNREFUSED', address: '10.20.30.40', port: 6543 });
    const memory = memoryLogger();
    const unreachable = createApp({ db: { ...db, sql: { ...db.sql, query: () => Promise.reject(refused) } }, logger: memory.logger });
    const response = await unreachable.fetch(new Request('http://test/readyz'));
    const text = await response.text();
    expect(response.status).toBe(503);
    expect(JSON.parse(text)).toEqual({ status: 'not ready', database: 'down' });
    for (const detail of ['10.20.30.40', '6543', 'ECONNREFUSED', 'connect']) expect(text).not.toContain(detail);
    expect(memory.text()).toContain(driverMessage);
  });

  it('/readyz: 503 listing a migration the database lacks, 200 once it is recorded again', async () => {
    const last = (await readMigrations()).at(-1)!;
    const [found] = await db.sql.query<Record<string, unknown>>('SELECT * FROM "_prisma_migrations" WHERE migration_name = $1', [last.name]);
    expect(found).toBeDefined();
    const row = defined(found, `the row of ${last.name}`);
    await db.sql.query('DELETE FROM "_prisma_migrations" WHERE migration_name = $1', [last.name]);
    const readiness = await ready(app);
    expect(readiness.status).toBe(503);
    expect(readiness.body).toMatchObject({ status: 'not ready', database: 'up', pendingMigrations: [last.name] });

    await db.sql.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
       VALUES ($1, $2, $3, $4, $5)`,
      [row.id, row.checksum, row.finished_at, row.migration_name, row.applied_steps_count],
    );
    expect((await ready(app)).status).toBe(200);
  });

  if (target.name === 'postgresql') {
    it.each(['cut', 'stall'] as const)(
      '/readyz: 503 within ~3 s while PostgreSQL is away (%s), 200 again by itself once it is back',
      async (outage) => {
        const serverUrl = new URL(db.url!);
        const proxy = await startTcpProxy(Number(serverUrl.port || 5432), serverUrl.hostname);
        let proxied: Database | undefined;
        try {
          const viaProxy = new URL(db.url!);
          viaProxy.port = String(proxy.port);
          proxied = await openDatabase({ databaseUrl: viaProxy.toString(), poolSize: 2 });
          const proxiedApp = createApp({ db: proxied });
          expect((await ready(proxiedApp)).status).toBe(200);

          proxy[outage]();
          for (let attempt = 0; attempt < 2; attempt++) {
            const down = await ready(proxiedApp);
            expect(down.status).toBe(503);
            expect(down.body).toEqual({ status: 'not ready', database: 'down' });
            expect(down.ms).toBeLessThan(3_000);
          }
          // Liveness does not depend on the database.
          expect((await get(proxiedApp, '/healthz')).status).toBe(200);

          proxy.restore();
          const back = await readyzUntil(proxiedApp, 200);
          expect(back.body).toEqual({ status: 'ready', database: 'up', pendingMigrations: [] });
        } finally {
          await proxied?.close().catch(() => {});
          await proxy.close();
        }
      },
    );
  } else {
    it('/readyz: 503 within ~3 s once the embedded database is closed', async () => {
      await db.close();
      const down = await ready(app);
      expect(down.status).toBe(503);
      expect(down.body).toEqual({ status: 'not ready', database: 'down' });
      expect(down.ms).toBeLessThan(3_000);
      // The process itself is still alive.
      expect((await get(app, '/healthz')).status).toBe(200);
    });
  }
});
