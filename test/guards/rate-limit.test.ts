// Rate limiting per API key: the request over the budget is 429 with Retry-After and the
// RateLimit-* headers, in the error shape of the surface called; other keys keep their
// own budget; instances sharing Redis share the budget; rejections are counted in /metrics.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createRateLimiter } from '../../src/http/rate-limit.ts';
import { openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import { graphqlErrorProblems, graphqlRequest, JSON_API, rest, restErrorProblems, LOCAL_CLIENT, type RawResponse, send } from './support.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const rateHeaders = (response: RawResponse) => ({
  limit: response.headers.get('RateLimit-Limit'),
  remaining: response.headers.get('RateLimit-Remaining'),
  reset: response.headers.get('RateLimit-Reset'),
  retryAfter: response.headers.get('Retry-After'),
});

async function metric(app: App, name: string): Promise<number> {
  const text = await (await send(app, { method: 'GET', path: '/metrics' }, LOCAL_CLIENT)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

function expect429(response: RawResponse) {
  expect(response.status).toBe(429);
  const headers = rateHeaders(response);
  expect(headers.limit).toBe('5');
  expect(headers.remaining).toBe('0');
  expect(Number(headers.reset)).toBeGreaterThanOrEqual(1);
  expect(Number(headers.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(headers.retryAfter)).toBeLessThanOrEqual(60);
}

/** A Redis client, or undefined (with a notice) when none answers. */
async function redisOrNothing(): Promise<Redis | undefined> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1_000, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return undefined;
  }
}

describe('rate limiting', () => {
  let db: TestDatabase;
  const keys: string[] = [];

  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
    const tenant = await createTestTenant(db);
    keys.push(tenant.key);
    for (let i = 0; i < 3; i++) keys.push((await createTestTenant(db, 'write', `Org ${i}`)).key);
  });
  afterAll(() => db?.close());

  describe('in memory', () => {
    it('REST: five requests pass with RateLimit-* headers, the sixth is 429 with Retry-After as a JSON:API error', async () => {
      const app = createApp({ db, rateLimiter: createRateLimiter({ perMinute: 5 }) });
      for (let i = 1; i <= 5; i++) {
        const response = await rest(app, 'GET', '/public/v2/flows', keys[0]);
        expect(response.status).toBe(200);
        expect(rateHeaders(response)).toMatchObject({ limit: '5', remaining: String(5 - i), retryAfter: null });
        expect(Number(rateHeaders(response).reset)).toBeGreaterThanOrEqual(1);
      }
      const limited = await rest(app, 'GET', '/public/v2/flows', keys[0]);
      expect429(limited);
      expect(limited.headers.get('content-type')).toBe(JSON_API);
      expect(restErrorProblems(limited)).toEqual([]);
      expect(limited.json).toMatchObject({ errors: [{ status: '429', code: 'RATE_LIMITED', title: 'Too Many Requests' }] });
      // The same key as `Bearer <key>` is the same budget.
      expect429(await rest(app, 'GET', '/public/v2/flows', `Bearer ${keys[0]}`));

      // Another key has a budget of its own.
      const other = await rest(app, 'GET', '/public/v2/flows', keys[1]);
      expect(other.status).toBe(200);
      expect(rateHeaders(other).remaining).toBe('4');
      expect(await metric(app, 'rate_limit_rejections_total')).toBe(2);
    });

    it('GraphQL: the sixth request is 429 as a GraphQL error response; the budget spans both surfaces', async () => {
      const app = createApp({ db, rateLimiter: createRateLimiter({ perMinute: 5 }) });
      for (let i = 0; i < 3; i++) expect((await graphqlRequest(app, keys[2], { query: '{ flows { totalCount } }' })).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await rest(app, 'GET', '/public/v2/flows', keys[2])).status).toBe(200);
      const limited = await graphqlRequest(app, keys[2], { query: '{ flows { totalCount } }' });
      expect429(limited);
      expect(limited.headers.get('content-type')).toContain('application/json');
      expect(graphqlErrorProblems(limited)).toEqual([]);
      expect(limited.json).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
      expect((limited.json as { data?: unknown }).data).toBeUndefined();
      expect429(await rest(app, 'GET', '/public/v2/flows', keys[2]));
      expect((await graphqlRequest(app, keys[3], { query: '{ flows { totalCount } }' })).status).toBe(200);
      expect(await metric(app, 'rate_limit_rejections_total')).toBe(2);
    });
  });

  describe('shared through Redis', () => {
    let redis: Redis | undefined;
    const clients: Redis[] = [];

    beforeAll(async () => {
      redis = await redisOrNothing();
      if (!redis) console.warn(`[rate-limit] no Redis answers at ${REDIS_URL}: the shared-budget test is skipped`);
    });
    afterAll(async () => {
      for (const client of clients) await client.quit().catch(() => {});
      await redis?.quit().catch(() => {});
    });

    it('two instances on one Redis share the budget of a key', async (context) => {
      if (!redis) return context.skip();
      // One prefix per run: nothing of an earlier run counts.
      const keyPrefix = `flowgw-rate-test-${randomUUID()}`;
      const instance = () => {
        const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
        clients.push(client);
        return client;
      };
      const [clientA, clientB] = [instance(), instance()];
      await Promise.all([clientA.connect(), clientB.connect()]);
      const appA = createApp({ db, rateLimiter: createRateLimiter({ perMinute: 5, redis: clientA, keyPrefix }) });
      const appB = createApp({ db, rateLimiter: createRateLimiter({ perMinute: 5, redis: clientB, keyPrefix }) });

      for (let i = 1; i <= 5; i++) {
        const response = await rest(i % 2 ? appA : appB, 'GET', '/public/v2/flows', keys[1]);
        expect(response.status).toBe(200);
        expect(rateHeaders(response).remaining).toBe(String(5 - i));
      }
      expect429(await rest(appA, 'GET', '/public/v2/flows', keys[1]));
      const fromB = await graphqlRequest(appB, keys[1], { query: '{ flows { totalCount } }' });
      expect429(fromB);
      expect(fromB.json).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
      // Another key, through either instance, is unaffected.
      expect((await rest(appB, 'GET', '/public/v2/flows', keys[3])).status).toBe(200);

      // The counts are in Redis (hashed keys, never the API key itself).
      const stored = await redis.keys(`${keyPrefix}*`);
      expect(stored.length).toBe(2);
      for (const name of stored) for (const key of keys) expect(name).not.toContain(key);
      expect(await metric(appA, 'rate_limit_rejections_total')).toBe(1);
      expect(await metric(appB, 'rate_limit_rejections_total')).toBe(1);
    });
  });
});
