// Subscriptions and the API key that opened them, over both transports against a real
// server (SSE read from a real HTTP response, WebSocket through graphql-ws): one cap per
// key counts SSE and WebSocket subscriptions together, an ended subscription gives its
// place back, and a key that stops being valid (revoked, expired) ends its subscriptions
// within the window docs/KEYS.md states: at once when the revocation is announced on Redis,
// within API_KEY_CACHE_TTL_MS without Redis, at its expiresAt for an expiry.
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { issueApiKey, revokeApiKey, rotateApiKey } from '../../src/domain/api-keys.ts';
import { cliActor } from '../../src/domain/audit-log.ts';
import { listenForRevocations, prepareAnnouncer, type RevocationListener } from '../../src/events/api-key-revocations.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { type AppOptions, createApp } from '../../src/http/app.ts';
import { serve, type RunningServer } from '../../src/http/serve.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { redisAnswers, TEST_REDIS } from '../support/redis.ts';
import { FLOW_RUN_CHANGED, type LiveSubscription, sleep, subscribeSse, subscribeWs, untilListening, within, wsClient } from './live-support.ts';

const noRedis = (await redisAnswers()) ? undefined : `Redis does not answer at ${TEST_REDIS.url}`;
if (noRedis) console.log(`subscription-keys.test.ts: revocation through Redis skipped: ${noRedis}`);

type Transport = 'SSE' | 'WebSocket';

const codesOf = (sub: LiveSubscription) => sub.inbox.items.flatMap((item) => (item.errors ?? []).map((error) => error.extensions?.code));
const closeCodeOf = (sub: LiveSubscription) => (sub.inbox.endError as { code?: number } | undefined)?.code;

describe.each(databaseTargets())('subscriptions and their API key on $name', (target) => {
  let db: TestDatabase;
  let bus: FlowRunChangeBus;
  let org: TestTenant;
  const servers: RunningServer[] = [];
  const clients: Client[] = [];
  const subscriptions: LiveSubscription[] = [];

  beforeAll(async () => {
    db = await openTestDatabase(target);
    bus = createFlowRunChangeBus();
    org = await createTestTenant(db);
  });
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((sub) => sub.close()));
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
    for (const server of servers.splice(0)) await server.close(1_000);
  });
  afterAll(async () => {
    await bus?.close();
    await db?.close();
  });

  async function start(options: Partial<AppOptions> = {}) {
    const app = createApp({ db, services: { clock: systemClock, changes: bus }, changeFeed: bus, ...options });
    const server = await serve(app, 0, '127.0.0.1');
    servers.push(server);
    return { app, server };
  }

  /** A subscription to a thread of its own, listening once this resolves (or refused). */
  async function subscribe(server: RunningServer, transport: Transport, key: string, { listening = true } = {}) {
    const messageThreadId = randomUUID();
    let sub: LiveSubscription;
    if (transport === 'SSE') {
      sub = await subscribeSse(fetch, key, { messageThreadId }, `http://127.0.0.1:${server.port}/graphql`);
    } else {
      const client = wsClient(server.port, key);
      clients.push(client);
      sub = subscribeWs(client, { messageThreadId });
    }
    subscriptions.push(sub);
    if (listening) await untilListening(sub.inbox, bus, { organizationId: org.organizationId, messageThreadId });
    return sub;
  }

  /** Refused with SUBSCRIPTION_LIMIT_REACHED, and nothing else. */
  async function expectRefused(sub: LiveSubscription) {
    await within(10_000, 'the refusal', sub.inbox.errorOrEnd());
    expect(sub.inbox.changes()).toEqual([]);
    expect(JSON.stringify(sub.inbox.endError ?? sub.inbox.items)).toMatch(/SUBSCRIPTION_LIMIT_REACHED/);
  }

  describe('one cap per key for both transports', () => {
    it('refuses the third of three SSE subscriptions with a cap of 2 (SUBSCRIPTION_LIMIT_REACHED); the two go on', async () => {
      const { server } = await start({ maxSubscriptionsPerKey: 2 });
      const first = await subscribe(server, 'SSE', org.key);
      const second = await subscribe(server, 'SSE', org.key);
      const third = await subscribe(server, 'SSE', org.key, { listening: false });
      await expectRefused(third);
      expect(codesOf(third)).toEqual(['SUBSCRIPTION_LIMIT_REACHED']);
      expect(third.inbox.completed).toBe(true);
      expect(first.inbox.ended || second.inbox.ended).toBe(false);
    });

    it.each<[Transport, Transport, Transport]>([
      ['WebSocket', 'SSE', 'SSE'],
      ['SSE', 'WebSocket', 'WebSocket'],
      ['WebSocket', 'SSE', 'WebSocket'],
    ])('counts %s and %s subscriptions together: a third over %s is refused', async (a, b, c) => {
      const { server } = await start({ maxSubscriptionsPerKey: 2 });
      const held = [await subscribe(server, a, org.key), await subscribe(server, b, org.key)];
      await expectRefused(await subscribe(server, c, org.key, { listening: false }));
      expect(held.map((sub) => sub.inbox.ended)).toEqual([false, false]);
    });

    it('gives a place back when a subscription ends, whichever transport held it', async () => {
      const { server } = await start({ maxSubscriptionsPerKey: 2 });
      const sse = await subscribe(server, 'SSE', org.key);
      const ws = await subscribe(server, 'WebSocket', org.key);
      await expectRefused(await subscribe(server, 'SSE', org.key, { listening: false }));

      await sse.close();
      // The place comes back once the server has seen the stream go (the client's abort
      // travels over the socket): a later subscription is taken.
      const afterSse = await untilTaken(server, 'WebSocket');
      await expectRefused(await subscribe(server, 'SSE', org.key, { listening: false }));

      await ws.close();
      const afterWs = await untilTaken(server, 'SSE');
      expect([afterSse.inbox.ended, afterWs.inbox.ended]).toEqual([false, false]);
    });

    it('holds no place for a subscription asked for without an event stream (406 NOT_ACCEPTABLE)', async () => {
      const { server } = await start({ maxSubscriptionsPerKey: 1 });
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`http://127.0.0.1:${server.port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', authorization: org.key },
          body: JSON.stringify({ query: FLOW_RUN_CHANGED, variables: { messageThreadId: randomUUID() } }),
        });
        expect(response.status).toBe(406);
        expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe('NOT_ACCEPTABLE');
      }
      const sub = await subscribe(server, 'SSE', org.key);
      expect(sub.inbox.ended).toBe(false);
    });

    /**
     * Subscribes over `transport` until one is taken. The freed place comes back once the
     * server has seen the old one go, which on a loaded machine (the whole suite on 2
     * cores) can take seconds: the wait is bounded by time, not by a number of tries.
     */
    async function untilTaken(server: RunningServer, transport: Transport) {
      const deadline = Date.now() + 20_000;
      let attempts = 0;
      let lastError: unknown;
      while (Date.now() < deadline) {
        attempts++;
        try {
          return await subscribe(server, transport, org.key);
        } catch (error) {
          lastError = error;
          await sleep(100);
        }
      }
      throw new Error(`no ${transport} subscription was taken within 20 s of the place being freed (${attempts} tries; the last: ${lastError})`);
    }
  });

  /** Opens one WebSocket and one SSE subscription with a new key of the org; returns them and the key. */
  async function subscribedKey(server: RunningServer, expiresAt?: Date) {
    const { key, apiKey } = await issueApiKey(db.prisma, { organizationId: org.organizationId, access: 'read', actor: cliActor('test'), expiresAt });
    const ws = await subscribe(server, 'WebSocket', key);
    const sse = await subscribe(server, 'SSE', key);
    return { key, apiKey, ws, sse };
  }

  /** The WebSocket closed with 4403; the SSE stream got UNAUTHENTICATED and then `complete`. */
  function expectEndedAsRefused(ws: LiveSubscription, sse: LiveSubscription) {
    expect(closeCodeOf(ws)).toBe(4403);
    expect(codesOf(sse)).toEqual(['UNAUTHENTICATED']);
    expect(sse.inbox.items.at(-1)?.errors?.[0]?.message).toBe('the API key is not valid');
    expect(sse.inbox.completed).toBe(true);
  }

  const bothEnded = (ws: LiveSubscription, sse: LiveSubscription, ms: number) =>
    Promise.all([
      ws.inbox.until(() => ws.inbox.ended, ms, 'the WebSocket to close'),
      sse.inbox.until(() => sse.inbox.ended, ms, 'the SSE stream to end'),
    ]);

  /** Both are still open 300 ms before `at`. */
  async function openUntilShortlyBefore(at: Date, ws: LiveSubscription, sse: LiveSubscription) {
    const wait = at.getTime() - 300 - Date.now();
    expect(wait).toBeGreaterThan(0);
    await sleep(wait);
    expect([ws.inbox.ended, sse.inbox.ended]).toEqual([false, false]);
  }

  describe('a key revoked without Redis', () => {
    const CACHE_TTL_MS = 2_000;

    it('ends its subscriptions within API_KEY_CACHE_TTL_MS (WebSocket 4403, SSE an UNAUTHENTICATED error then complete); another key’s go on', async () => {
      const { server } = await start({ apiKeyCacheTtlMs: CACHE_TTL_MS });
      const bystander = await subscribe(server, 'SSE', org.key);
      const { apiKey, ws, sse } = await subscribedKey(server);

      const revoked = await revokeApiKey(db.prisma, apiKey.id, cliActor('test'));
      // Generous: the bound tested is the latency below, this only guards against a hang.
      await bothEnded(ws, sse, 30_000);
      const latency = Date.now() - revoked.revokedAt!.getTime();
      console.log(`[${target.name}] subscriptions of a revoked key ended ${latency} ms after the revocation (no Redis, TTL ${CACHE_TTL_MS} ms)`);
      expect(latency).toBeLessThanOrEqual(CACHE_TTL_MS + 1_000);
      expectEndedAsRefused(ws, sse);
      expect(bystander.inbox.ended).toBe(false);
    });

    it('is served from memory after the revocation, and refused over HTTP once API_KEY_CACHE_TTL_MS has passed', async () => {
      const app = createApp({ db, apiKeyCacheTtlMs: CACHE_TTL_MS });
      const { key, apiKey } = await issueApiKey(db.prisma, { organizationId: org.organizationId, access: 'read', actor: cliActor('test') });
      const status = async () => (await sendGraphQL(app, key, '{ flows(first: 1) { totalCount } }')).status;
      expect(await status()).toBe(200);
      const remembered = Date.now();
      await revokeApiKey(db.prisma, apiKey.id, cliActor('test'));
      expect(await status()).toBe(200);
      await sleep(remembered + CACHE_TTL_MS + 100 - Date.now());
      expect(await status()).toBe(401);
    });
  });

  describe.skipIf(!!noRedis)('a key revoked with Redis', () => {
    it('ends its subscriptions as soon as the revocation is announced, although keys are remembered for ten minutes', async () => {
      const { app, server } = await start({ apiKeyCacheTtlMs: 600_000 });
      let listening!: () => void;
      const ready = new Promise<void>((resolve) => (listening = resolve));
      // As src/server.ts follows the announcements.
      const listener: RevocationListener = listenForRevocations({
        redisUrl: TEST_REDIS.url,
        onRevoked: (ids) => void app.apiKeysChanged(ids),
        onListening: () => {
          void app.apiKeysChanged();
          listening();
        },
      });
      // What `key revoke` does: commit, then announce.
      const announcer = prepareAnnouncer(TEST_REDIS.url);
      try {
        await within(10_000, 'listening for revocations', ready);
        const { apiKey, ws, sse } = await subscribedKey(server);
        await revokeApiKey(db.prisma, apiKey.id, cliActor('test'));
        const announcedAt = Date.now();
        expect(await announcer.announce([apiKey.id])).toBeGreaterThanOrEqual(1);
        await bothEnded(ws, sse, 30_000);
        const latency = Date.now() - announcedAt;
        console.log(`[${target.name}] subscriptions of a revoked key ended ${latency} ms after the announcement (Redis, TTL 10 min)`);
        expect(latency).toBeLessThanOrEqual(1_000);
        expectEndedAsRefused(ws, sse);
      } finally {
        announcer.close();
        await listener.close();
      }
    });
  });

  it('keeps the subscriptions of a key rotated with an overlap until the overlap ends', async () => {
    const { app, server } = await start();
    const { apiKey, ws, sse } = await subscribedKey(server);
    // A rotation is announced like a revocation; the old key still works for a while.
    const { replaced } = await rotateApiKey(db.prisma, apiKey.id, { overlapMs: 4_000, actor: cliActor('test') });
    await app.apiKeysChanged([apiKey.id]);
    await openUntilShortlyBefore(replaced.expiresAt!, ws, sse);
    await bothEnded(ws, sse, 30_000);
    const endedAfter = Date.now() - replaced.expiresAt!.getTime();
    console.log(`[${target.name}] subscriptions of a rotated key ended ${endedAfter} ms after the end of its overlap`);
    expect(endedAfter).toBeGreaterThanOrEqual(0);
    expect(endedAfter).toBeLessThanOrEqual(1_000);
    expectEndedAsRefused(ws, sse);
  });

  it('ends the subscriptions of an expiring key at its expiresAt, not before', async () => {
    const { server } = await start();
    const expiresAt = new Date(Date.now() + 6_000);
    const { ws, sse } = await subscribedKey(server, expiresAt);
    await openUntilShortlyBefore(expiresAt, ws, sse);
    await bothEnded(ws, sse, 30_000);
    const endedAfter = Date.now() - expiresAt.getTime();
    console.log(`[${target.name}] subscriptions of an expiring key ended ${endedAfter} ms after its expiresAt`);
    expect(endedAfter).toBeGreaterThanOrEqual(0);
    expect(endedAfter).toBeLessThanOrEqual(1_000);
    expectEndedAsRefused(ws, sse);
  });
});
