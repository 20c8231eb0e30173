// Key guessing and keyless load, per client address: a presented key that does not
// authenticate spends the address's failure budget (20 a minute here), after which its
// keys are refused with 429 before any database look-up; requests without a key have a
// budget per address too (health and metrics aside). Keys that authenticate are what the
// per-key limiter counts, so random keys cannot grow it. Other addresses, and keys the
// instance has seen authenticate, are served as before.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createClientLimits } from '../../src/http/client-limits.ts';
import { createRateLimiter, type RateLimiter } from '../../src/http/rate-limit.ts';
import { serve } from '../../src/http/serve.ts';
import { createKey, createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { graphqlErrorProblems, JSON_API, restErrorProblems, type RawResponse } from './support.ts';

const ATTACKER = '203.0.113.7';
const ELSEWHERE = '198.51.100.20';
const FAILURES_PER_MINUTE = 20;
const KEYLESS_PER_MINUTE = 30;
const GUESSES = 10_000;

// The heap figure is reported, not asserted: retained bytes after a full collection.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const retainedHeap = () => {
  collectGarbage();
  return process.memoryUsage().heapUsed;
};

const guessedKey = () => `frg_${randomBytes(24).toString('base64url')}`;

/** A per-key limiter that remembers every key it was asked to count. */
function recordingLimiter(): RateLimiter & { counted: Set<string> } {
  const inner = createRateLimiter({ perMinute: 100_000 })!;
  const counted = new Set<string>();
  return {
    counted,
    take(apiKey) {
      counted.add(apiKey);
      return inner.take(apiKey);
    },
  };
}

async function call(
  app: App,
  address: string | undefined,
  {
    key,
    path = '/public/v2/flows',
    method = 'GET',
    body,
    headers = {},
  }: { key?: string; path?: string; method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const request = new Request(`http://test${path}`, {
    method,
    headers: { ...(key && { authorization: key }), ...(body && { 'content-type': 'application/json' }), ...headers },
    body,
  });
  const response = await app.fetch(request, { remoteAddress: address });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined; // /metrics is text
  }
  return { status: response.status, headers: response.headers, text, json };
}

const graphqlCall = (app: App, address: string, key?: string) =>
  call(app, address, { key, path: '/graphql', method: 'POST', body: JSON.stringify({ query: '{ flows { totalCount } }' }) });

function expectRetryAfter(response: RawResponse) {
  const retryAfter = Number(response.headers.get('Retry-After'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe.each(databaseTargets())('per client address ($name)', (target) => {
  let db: TestDatabase;
  let warmKey: string;
  let coldKey: string;
  let otherKey: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    warmKey = (await createTestTenant(db, 'write', 'Warm')).key;
    coldKey = (await createTestTenant(db, 'write', 'Cold')).key;
    otherKey = (await createTestTenant(db, 'write', 'Elsewhere')).key;
  });
  afterAll(() => db?.close());

  const limits = (options: { trustProxy?: string[] } = {}) =>
    createClientLimits({ authFailuresPerMinute: FAILURES_PER_MINUTE, keylessPerMinute: KEYLESS_PER_MINUTE, ...options });

  it(`${GUESSES} guessed keys from one address: 429 once ${FAILURES_PER_MINUTE} have failed, no look-up and no limiter entry for the rest; valid keys still served`, async () => {
    const rateLimiter = recordingLimiter();
    const app = createApp({ db, rateLimiter, clientLimits: limits() });
    // The warm key was served to this address before the guessing began.
    expect((await call(app, ATTACKER, { key: warmKey })).status).toBe(200);
    rateLimiter.counted.clear();

    const statementsBefore = db.statements.length;
    const heapBefore = retainedHeap();
    const statuses: number[] = [];
    let example429: RawResponse | undefined;
    for (let i = 0; i < GUESSES; i++) {
      const response = await call(app, ATTACKER, { key: guessedKey() });
      statuses.push(response.status);
      if (response.status === 429) example429 ??= response;
    }
    const heapAfter = retainedHeap();
    const lookups = db.statements.length - statementsBefore;
    console.log(
      `[key guessing, ${target.name}] ${GUESSES} guesses: ${statuses.filter((s) => s === 401).length} × 401, ` +
        `${statuses.filter((s) => s === 429).length} × 429; ${lookups} SQL statements; ` +
        `${rateLimiter.counted.size} keys counted by the per-key limiter; retained heap ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(2)} MiB more after`,
    );
    expect(statuses.slice(0, FAILURES_PER_MINUTE)).toEqual(Array(FAILURES_PER_MINUTE).fill(401));
    expect(statuses.slice(FAILURES_PER_MINUTE).every((status) => status === 429)).toBe(true);
    expect(lookups).toBeLessThanOrEqual(FAILURES_PER_MINUTE);
    expect(rateLimiter.counted.size).toBe(0);

    // The refusal is a JSON:API RATE_LIMITED error with Retry-After; on /graphql, a GraphQL one.
    expect(example429!.headers.get('content-type')).toBe(JSON_API);
    expect(restErrorProblems(example429!)).toEqual([]);
    expect(example429!.json).toMatchObject({ errors: [{ status: '429', code: 'RATE_LIMITED' }] });
    expectRetryAfter(example429!);
    const onGraphql = await graphqlCall(app, ATTACKER, guessedKey());
    expect(onGraphql.status).toBe(429);
    expect(graphqlErrorProblems(onGraphql)).toEqual([]);
    expect(onGraphql.json).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    expectRetryAfter(onGraphql);

    // Another address is not affected, a key it has never used included.
    expect((await call(app, ELSEWHERE, { key: otherKey })).status).toBe(200);
    expect((await graphqlCall(app, ELSEWHERE, guessedKey())).status).toBe(401);
    // The guessing address keeps the key it was being served with...
    expect((await call(app, ATTACKER, { key: warmKey })).status).toBe(200);
    expect((await graphqlCall(app, ATTACKER, `Bearer ${warmKey}`)).status).toBe(200);
    // ...but a key this instance has not seen authenticate waits for the budget to refill:
    // telling it from a guess would take the look-up the budget exists to spare.
    expect((await call(app, ATTACKER, { key: coldKey })).status).toBe(429);
    expect([...rateLimiter.counted].sort()).toEqual([otherKey, warmKey].sort());
  });

  it('a client opening with 50 requests at once on a key not seen yet is served, with one look-up', async () => {
    const app = createApp({ db, clientLimits: limits() });
    // A key of its own, never used: no cache of this instance knows it.
    const key = await createKey(db, (await createTestTenant(db, 'write', 'Burst')).organizationId, 'write');
    const statementsBefore = db.statements.length;
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await call(app, ATTACKER, { key })).status));
    expect(statuses).toEqual(Array(50).fill(200));
    // One look-up of the key (and one write of its lastUsedAt), then the page of flows each request asked for.
    const keyStatements = db.statements.slice(statementsBefore).filter((sql) => sql.includes('"ApiKey"'));
    expect(keyStatements.filter((sql) => /^\s*SELECT\b/i.test(sql))).toHaveLength(1);
    expect(keyStatements.filter((sql) => /^\s*UPDATE\b/i.test(sql))).toHaveLength(1);
  });

  it(`the same unknown key again and again is looked up once`, async () => {
    const app = createApp({ db });
    const key = guessedKey();
    const statementsBefore = db.statements.length;
    for (let i = 0; i < 50; i++) expect((await call(app, undefined, { key })).status).toBe(401);
    expect(db.statements.length - statementsBefore).toBe(1);
  });

  it(`requests without a key: ${KEYLESS_PER_MINUTE} a minute per address, health and metrics aside`, async () => {
    const app = createApp({ db, clientLimits: limits() });
    for (let i = 0; i < KEYLESS_PER_MINUTE / 2; i++) {
      expect((await call(app, ATTACKER)).status).toBe(401);
      expect((await call(app, ATTACKER, { path: '/public/v2/openapi.json' })).status).toBe(200);
    }
    const refused = await call(app, ATTACKER);
    expect(refused.status).toBe(429);
    expect(restErrorProblems(refused)).toEqual([]);
    expect(refused.json).toMatchObject({ errors: [{ status: '429', code: 'RATE_LIMITED' }] });
    expectRetryAfter(refused);
    const onGraphql = await graphqlCall(app, ATTACKER);
    expect(onGraphql.status).toBe(429);
    expect(onGraphql.json).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED' } }] });
    expect((await call(app, ATTACKER, { path: '/public/v2/openapi.json' })).status).toBe(429);
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      // /metrics without a token answers only this machine: 403 here, never the budget's 429.
      const answered = path === '/metrics' ? 403 : 200;
      for (let i = 0; i < 3; i++) expect((await call(app, ATTACKER, { path })).status).toBe(answered);
    }
    // Keys still work from there, and keyless requests from elsewhere are not affected.
    expect((await call(app, ATTACKER, { key: warmKey })).status).toBe(200);
    expect((await call(app, ELSEWHERE)).status).toBe(401);
  });

  it('the address is the socket peer: X-Forwarded-For is ignored unless TRUST_PROXY trusts the peer', async () => {
    const spoofed = (app: App, address: string, forwardedFor: string) =>
      call(app, address, { key: guessedKey(), headers: { 'x-forwarded-for': forwardedFor } });

    const untrusting = createApp({ db, clientLimits: limits() });
    for (let i = 0; i < FAILURES_PER_MINUTE; i++) expect((await spoofed(untrusting, ATTACKER, `192.0.2.${i}`)).status).toBe(401);
    expect((await spoofed(untrusting, ATTACKER, '192.0.2.200')).status).toBe(429);

    const behindProxy = createApp({ db, clientLimits: limits({ trustProxy: ['loopback'] }) });
    for (let i = 0; i < FAILURES_PER_MINUTE; i++) expect((await spoofed(behindProxy, '127.0.0.1', ATTACKER)).status).toBe(401);
    expect((await spoofed(behindProxy, '127.0.0.1', ATTACKER)).status).toBe(429);
    // Another client behind the same proxy has its own budget...
    expect((await spoofed(behindProxy, '127.0.0.1', ELSEWHERE)).status).toBe(401);
    // ...and a peer that is not a trusted proxy cannot choose its address.
    expect((await spoofed(behindProxy, ATTACKER, ELSEWHERE)).status).toBe(429);
  });

  it('IPv6 clients are counted by /64, and IPv4-mapped addresses as IPv4', async () => {
    const app = createApp({ db, clientLimits: limits() });
    for (let i = 1; i <= FAILURES_PER_MINUTE; i++) {
      expect((await call(app, `2001:db8:1:2::${i.toString(16)}`, { key: guessedKey() })).status).toBe(401);
    }
    expect((await call(app, '2001:db8:1:2:ffff::1', { key: guessedKey() })).status).toBe(429);
    expect((await call(app, '2001:db8:1:3::1', { key: guessedKey() })).status).toBe(401);

    for (let i = 0; i < FAILURES_PER_MINUTE; i++) expect((await call(app, `::ffff:${ELSEWHERE}`, { key: guessedKey() })).status).toBe(401);
    expect((await call(app, ELSEWHERE, { key: guessedKey() })).status).toBe(429);
  });

  it.runIf(target.name === 'embedded')('served over HTTP, the socket peer is the address', async () => {
    const server = await serve(createApp({ db, clientLimits: limits() }), 0, '127.0.0.1');
    try {
      const statuses: number[] = [];
      for (let i = 0; i <= FAILURES_PER_MINUTE; i++) {
        const response = await fetch(`http://127.0.0.1:${server.port}/public/v2/flows`, { headers: { authorization: guessedKey() } });
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      expect(statuses).toEqual([...Array(FAILURES_PER_MINUTE).fill(401), 429]);
    } finally {
      await server.close(1_000);
    }
  });

  it.runIf(target.name === 'embedded')('the budgets come from the environment (0 turns one off) and TRUST_PROXY lists the proxies to believe', () => {
    expect(readConfig({})).toMatchObject({ authFailuresPerMinute: 20, keylessPerMinute: 60, trustProxy: [] });
    expect(readConfig({ AUTH_FAILURES_PER_MINUTE: '5', KEYLESS_REQUESTS_PER_MINUTE: '0', TRUST_PROXY: 'loopback, 10.0.0.0/8' })).toMatchObject({
      authFailuresPerMinute: 5,
      keylessPerMinute: 0,
      trustProxy: ['loopback', '10.0.0.0/8'],
    });
    expect(() => readConfig({ AUTH_FAILURES_PER_MINUTE: '-1' })).toThrow(/AUTH_FAILURES_PER_MINUTE/);
    expect(() => readConfig({ TRUST_PROXY: 'not-an-address' })).toThrow(/TRUST_PROXY/);
  });
});
