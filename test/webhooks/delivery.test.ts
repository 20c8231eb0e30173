// Webhook delivery end to end, in process: a trigger through the REST surface reaches a
// real HTTP receiver on 127.0.0.1, signed so that the standardwebhooks package verifies it;
// failed attempts are retried (same webhook-id) until one succeeds; a run's events arrive
// in order even when attempts fail; an outage of the receiver loses nothing; an endpoint
// failing for the whole retry window is turned off; /metrics counts it all.
import { Webhook } from 'standardwebhooks';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRunChange } from '../../src/domain/flow-run-changes.ts';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { deliveryQueueStats, MAX_PENDING_DELIVERIES_PER_ENDPOINT, type RetryPolicy } from '../../src/domain/webhook-deliveries.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/domain/webhook-events.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { startWebhookWorker, type WebhookWorker } from '../../src/jobs/webhook-worker.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { sendWebhook } from '../../src/webhooks/send.ts';
import { call } from '../rest/support.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { at, only } from '../support/items.ts';
import { postRun, postThread } from '../support/rest-fixtures.ts';
import { type ReceivedWebhook, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? at(sorted, middle) : (at(sorted, middle - 1) + at(sorted, middle)) / 2;
};

describe.each(databaseTargets())('webhook delivery on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let receiver: WebhookReceiver;
  let worker: WebhookWorker | undefined;
  let flowId: string;
  const metrics = createMetrics({ webhookQueue: () => deliveryQueueStats(db.prisma, new Date()) });

  const fastRetries: RetryPolicy = { baseDelayMs: 50, maxDelayMs: 400, windowMs: 60_000, leaseMs: 30_000 };
  function startWorker(retry: RetryPolicy = fastRetries) {
    worker = startWebhookWorker(db.prisma, {
      clock: systemClock,
      retry,
      pollIntervalMs: 50,
      timeoutMs: 2_000,
      allowPrivateUrls: true,
      onAttempt: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
      onDropped: (count) => metrics.webhookDeliveriesDropped.inc(count),
    });
  }

  async function newEndpoint(events: string[] = [...WEBHOOK_EVENT_TYPES], url = receiver.url) {
    const created = await call(app, 'POST', '/public/v2/webhook-endpoints', {
      key: org.key,
      body: { data: { type: 'webhookEndpoints', attributes: { url, events } } },
    });
    expect(created.status).toBe(201);
    return { id: created.json.data.id as string, secret: created.json.meta.secret as string };
  }
  const newThread = () => postThread(app, org.key, 'web', 'hook');
  async function trigger(messageThreadId: string) {
    const run = await postRun(app, org.key, flowId, messageThreadId);
    expect(run.status).toBe(201);
    return run.json.data as { id: string; attributes: Record<string, unknown> };
  }
  const patch = (id: string, attributes: Record<string, unknown>) =>
    call(app, 'PATCH', `/public/v2/flow-runs/${id}`, { key: org.key, body: { data: { type: 'flowRuns', id, attributes } } });
  const bodyOf = (request: ReceivedWebhook) =>
    JSON.parse(request.body) as { type: string; timestamp: string; data: { flowRun: Record<string, unknown> & { id: string } } };
  const eventsOfRun = (requests: ReceivedWebhook[], runId: string) =>
    requests
      .map(bodyOf)
      .filter((body) => body.data.flowRun.id === runId)
      .map((body) => body.type);

  beforeAll(async () => {
    db = await openTestDatabase(target);
    receiver = await startWebhookReceiver();
    const changes = { publish: (committed: readonly FlowRunChange[]) => committed.length && worker?.wake() };
    app = createApp({
      db,
      metrics,
      services: { clock: systemClock, changes: { publish: (c) => void changes.publish(c) }, webhookUrls: { allowPrivate: true } },
    });
    org = await createTestTenant(db, 'write', 'Webhook receiver org');
    const flow = await call(app, 'POST', '/public/v2/flows', { key: org.key, body: { data: { type: 'flows', attributes: { name: 'Hooked' } } } });
    flowId = flow.json.data.id;
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
    // Each test starts with no endpoint (their deliveries go with them) and a receiver that answers 204.
    await db.prisma.webhookEndpoint.deleteMany({});
    receiver.received.length = 0;
    receiver.answer = () => 204;
  });
  afterAll(async () => {
    await worker?.stop();
    await receiver?.stop();
    await db?.close();
  });

  it('delivers each trigger signed, within moments, with the run as REST shows it (median latency reported)', async () => {
    const { secret } = await newEndpoint(['flowRun.triggered']);
    startWorker();
    const verifier = new Webhook(secret);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const thread = await newThread();
      const started = Date.now();
      const run = await trigger(thread);
      await receiver.waitFor((received) => received.some((request) => bodyOf(request).data.flowRun.id === run.id), 30_000);
      const request = receiver.received.find((candidate) => bodyOf(candidate).data.flowRun.id === run.id)!;
      latencies.push(request.receivedAt - started);

      // The standardwebhooks package accepts the signature and gives back the body.
      const headers = Object.fromEntries(
        ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(request.headers[name])]),
      );
      expect(verifier.verify(request.body, headers)).toEqual(JSON.parse(request.body));
      expect(request.headers['content-type']).toBe('application/json');
      const body = bodyOf(request);
      expect(body.type).toBe('flowRun.triggered');
      expect(new Date(body.timestamp).getTime()).toBeGreaterThanOrEqual(started - 1000);
      const { id, attributes } = run;
      expect(body.data.flowRun).toEqual({ id, ...attributes });
      expect(Object.keys(body.data.flowRun)).toEqual(['id', ...Object.keys(attributes)]);
    }
    // A signature made with another secret is refused: the check above is a real one.
    const request = at(receiver.received, 0, 'received webhook');
    const forged = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(request.headers[name])]));
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(request.body, forged)).toThrow();
    console.log(
      `[${target.name}] webhook latency trigger → receipt over ${latencies.length} triggers: median ${median(latencies)} ms, ` +
        `min ${Math.min(...latencies)} ms, max ${Math.max(...latencies)} ms`,
    );
    expect(receiver.received).toHaveLength(20);
  });

  it('retries a failing receiver with the same webhook-id until it answers 2xx, then stops', async () => {
    const endpoint = await newEndpoint(['flowRun.triggered']);
    receiver.answer = ({ attempt }) => (attempt <= 2 ? 500 : 200);
    startWorker();
    const run = await trigger(await newThread());
    await receiver.waitFor((received) => received.some((request) => request.answered === 200));
    // Time for a wrong fourth attempt to show up, were there one.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received.map((request) => request.answered)).toEqual([500, 500, 200]);
    expect(new Set(receiver.received.map((request) => request.headers['webhook-id'])).size).toBe(1);
    expect(new Set(receiver.received.map((request) => request.body)).size).toBe(1);
    const deliveryOf = () => db.prisma.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id, flowRunId: run.id } });
    await expect.poll(async () => (await deliveryOf()).status, { timeout: 10_000 }).toBe('delivered');
    const delivery = await deliveryOf();
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastResponseStatus: 200, lastError: null });
    expect(receiver.received[0]?.headers['webhook-id']).toBe(delivery.id);

    // The same, as a client sees it.
    const listed = await call(app, 'GET', `/public/v2/webhook-endpoints/${endpoint.id}/deliveries`, { key: org.key });
    expect(listed.status).toBe(200);
    expect(listed.json.data).toHaveLength(1);
    expect(listed.json.data[0]).toMatchObject({
      id: delivery.id,
      type: 'webhookDeliveries',
      attributes: {
        status: 'delivered',
        attempts: 3,
        lastResponseStatus: 200,
        nextAttemptAt: null,
        eventType: 'flowRun.triggered',
        flowRunId: run.id,
      },
    });
  });

  it("delivers one run's events in order, even when attempts fail", async () => {
    await newEndpoint();
    // Every event's first attempt fails: a later event must wait for the retry of an earlier one.
    receiver.answer = ({ attempt }) => (attempt === 1 ? 503 : 204);
    startWorker();
    const thread = await newThread();
    const first = await trigger(thread);
    const second = await trigger(thread);
    await patch(first.id, { status: 'finished' }); // first updated, second promoted
    await patch(second.id, { status: 'cancelled' }); // second updated
    expect((await call(app, 'DELETE', `/public/v2/flow-runs/${second.id}`, { key: org.key })).status).toBe(204);
    await receiver.waitFor((received) => received.filter((request) => request.answered === 204).length === 6);
    const delivered = receiver.delivered();
    expect(eventsOfRun(delivered, first.id)).toEqual(['flowRun.triggered', 'flowRun.updated']);
    expect(eventsOfRun(delivered, second.id)).toEqual(['flowRun.triggered', 'flowRun.promoted', 'flowRun.updated', 'flowRun.deleted']);
    // No event of a run was even attempted before the previous one was delivered.
    const attempted = receiver.received;
    expect(eventsOfRun(attempted, second.id)).toEqual(
      ['flowRun.triggered', 'flowRun.promoted', 'flowRun.updated', 'flowRun.deleted'].flatMap((type) => [type, type]),
    );
  });

  it('loses nothing while the receiver is down for 5 s, and keeps each run in order (figures reported)', async () => {
    await newEndpoint();
    // The production backoff's shape, with a 1 s base so the outage spans a few retries.
    startWorker({ baseDelayMs: 1_000, maxDelayMs: 60_000, windowMs: 60_000, leaseMs: 10_000 });
    await receiver.stop();
    const downAt = Date.now();
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) {
      const thread = await newThread();
      const first = await trigger(thread);
      const second = await trigger(thread);
      await patch(first.id, { status: 'finished' });
      runs.push(first.id, second.id);
    }
    const expected = 5 * 4; // per thread: 2 triggered, 1 updated, 1 promoted
    await new Promise((resolve) => setTimeout(resolve, 5_000 - (Date.now() - downAt)));
    await receiver.start();
    const upAt = Date.now();
    await receiver.waitFor((received) => received.filter((request) => request.answered === 204).length >= expected, 60_000);
    const allDeliveredAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.delivered()).toHaveLength(expected);
    for (let i = 0; i < runs.length; i += 2) {
      expect(eventsOfRun(receiver.delivered(), at(runs, i))).toEqual(['flowRun.triggered', 'flowRun.updated']);
      expect(eventsOfRun(receiver.delivered(), at(runs, i + 1))).toEqual(['flowRun.triggered', 'flowRun.promoted']);
    }
    // The receiver has answered; the worker may still be recording the last outcomes.
    const delivered = () => db.prisma.webhookDelivery.count({ where: { flowRunId: { in: runs }, status: 'delivered' } });
    await expect.poll(delivered, { timeout: 10_000 }).toBe(expected);
    const deliveries = await db.prisma.webhookDelivery.findMany({ where: { flowRunId: { in: runs } } });
    const attempts = deliveries.map((delivery) => delivery.attempts);
    console.log(
      `[${target.name}] receiver down ${upAt - downAt} ms with ${expected} events: all delivered ${allDeliveredAt - upAt} ms after it came back, ` +
        `in order per run; attempts per event: min ${Math.min(...attempts)}, median ${median(attempts)}, max ${Math.max(...attempts)}, ` +
        `total ${attempts.reduce((a, b) => a + b, 0)} for ${expected} events`,
    );
  }, 90_000);

  it('gives up and turns the endpoint off once it has failed for the whole retry window', async () => {
    const endpoint = await newEndpoint(['flowRun.triggered']);
    receiver.answer = () => 500;
    startWorker({ baseDelayMs: 50, maxDelayMs: 200, windowMs: 1_500, leaseMs: 10_000 });
    const run = await trigger(await newThread());
    await expect
      .poll(async () => (await db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).enabled, { timeout: 15_000 })
      .toBe(false);
    const read = await call(app, 'GET', `/public/v2/webhook-endpoints/${endpoint.id}`, { key: org.key });
    expect(read.json.data.attributes.enabled).toBe(false);
    expect(read.json.data.attributes.disabledReason).toMatch(/every delivery attempt failed/);
    const delivery = await db.prisma.webhookDelivery.findFirstOrThrow({ where: { endpointId: endpoint.id, flowRunId: run.id } });
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toBeGreaterThan(2);
    expect(delivery.lastResponseStatus).toBe(500);
    // Nothing is sent to it any more, and turning it on again clears the reason.
    const attemptsSoFar = receiver.received.length;
    await trigger(await newThread());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received.length).toBe(attemptsSoFar);
    const enabled = await call(app, 'PATCH', `/public/v2/webhook-endpoints/${endpoint.id}`, {
      key: org.key,
      body: { data: { type: 'webhookEndpoints', id: endpoint.id, attributes: { enabled: true } } },
    });
    expect(enabled.json.data.attributes).toMatchObject({ enabled: true, disabledReason: null });
  });

  it('counts attempts by outcome and shows the queue on /metrics', async () => {
    await newEndpoint(['flowRun.triggered']);
    receiver.answer = ({ attempt }) => (attempt === 1 ? 500 : 204);
    const count = async (outcome: string) =>
      (await metrics.webhookDeliveries.get()).values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
    const before = { delivered: await count('delivered'), retrying: await count('retrying') };
    // No worker yet: the trigger's delivery waits in the queue.
    await trigger(await newThread());
    // Metrics without a token are for a client on this machine.
    const local = { remoteAddress: '127.0.0.1' };
    const queued = await (await app.fetch(new Request('http://test/metrics'), local)).text();
    expect(queued).toMatch(/^webhook_queue_depth 1$/m);
    expect(Number(/^webhook_oldest_pending_age_seconds (\S+)$/m.exec(queued)?.[1])).toBeGreaterThanOrEqual(0);
    startWorker();
    await receiver.waitFor((received) => received.some((request) => request.answered === 204));
    await expect.poll(async () => (await count('delivered')) - before.delivered).toBe(1);
    expect((await count('retrying')) - before.retrying).toBe(1);
    const drained = await (await app.fetch(new Request('http://test/metrics'), local)).text();
    expect(drained).toMatch(/^webhook_queue_depth 0$/m);
    expect(drained).toMatch(/^webhook_oldest_pending_age_seconds 0$/m);
  });

  it(`keeps at most ${MAX_PENDING_DELIVERIES_PER_ENDPOINT} deliveries pending per endpoint: the oldest beyond are dropped, visibly and counted`, async () => {
    const endpoint = await newEndpoint(['flowRun.triggered']);
    const overflow = 50;
    // An endpoint that has been down a while: its backlog, every delivery waiting for a retry.
    await db.prisma.$executeRaw`
      INSERT INTO "WebhookDelivery" (id, "organizationId", "endpointId", "eventType", "flowRunId", "flowRun", "occurredAt", "createdAt", "nextAttemptAt")
      SELECT gen_random_uuid(), ${org.organizationId}::uuid, ${endpoint.id}::uuid, 'flowRun.triggered', gen_random_uuid(), '{}'::jsonb,
             now() - make_interval(secs => n.total - n.i), now() - make_interval(secs => n.total - n.i), now() + interval '1 hour'
      FROM (SELECT i, ${MAX_PENDING_DELIVERIES_PER_ENDPOINT + overflow}::int AS total FROM generate_series(1, ${MAX_PENDING_DELIVERIES_PER_ENDPOINT + overflow}::int) AS i) AS n
      ORDER BY n.i`;
    const dropped = async () => (await metrics.webhookDeliveriesDropped.get()).values.reduce((sum, value) => sum + value.value, 0);
    const droppedBefore = await dropped();
    startWorker();
    const countOf = (status: 'pending' | 'dropped') => db.prisma.webhookDelivery.count({ where: { endpointId: endpoint.id, status } });
    await expect.poll(() => countOf('dropped'), { timeout: 15_000 }).toBe(overflow);
    expect(await countOf('pending')).toBe(MAX_PENDING_DELIVERIES_PER_ENDPOINT);
    // The oldest went: every dropped one came before every one still pending.
    const order = only(
      await db.prisma.$queryRaw<{ newestDropped: bigint; oldestPending: bigint }[]>`
      SELECT max(sequence) FILTER (WHERE status = 'dropped') AS "newestDropped", min(sequence) FILTER (WHERE status = 'pending') AS "oldestPending"
      FROM "WebhookDelivery" WHERE "endpointId" = ${endpoint.id}::uuid`,
    );
    expect(order.newestDropped < order.oldestPending).toBe(true);
    expect(await dropped()).toBe(droppedBefore + overflow);
    // The client sees them at the end of the list (newest first), with the reason.
    const listed = await sendGraphQL<
      { webhookEndpoint: { deliveries: { edges: { node: { status: string; lastError: string; nextAttemptAt: null } }[] } } },
      unknown
    >(
      app,
      org.key,
      `query ($id: UUID!) { webhookEndpoint(id: $id) { deliveries(offset: ${MAX_PENDING_DELIVERIES_PER_ENDPOINT}, first: 100) { edges { node { status lastError nextAttemptAt } } } } }`,
      { id: endpoint.id },
    );
    expect(listed.errors).toBeUndefined();
    const nodes = listed.data!.webhookEndpoint.deliveries.edges.map((edge) => edge.node);
    expect(nodes).toHaveLength(overflow);
    expect(nodes[0]).toEqual({
      status: 'dropped',
      lastError: `dropped: more than ${MAX_PENDING_DELIVERIES_PER_ENDPOINT} deliveries were pending for this endpoint, and this was among the oldest`,
      nextAttemptAt: null,
    });
    expect(nodes.every((node) => node.status === 'dropped' && node.lastError === nodes[0]?.lastError)).toBe(true);
    const rest = await call(app, 'GET', `/public/v2/webhook-endpoints/${endpoint.id}/deliveries?page[number]=101&page[size]=100`, { key: org.key });
    expect(rest.status).toBe(200);
    expect(rest.json.data[0]?.attributes).toMatchObject({ status: 'dropped', lastError: nodes[0]?.lastError });
  });

  it('refuses, when it connects, an address that is not public (a host name may resolve elsewhere by now)', async () => {
    const send = (url: string) => sendWebhook(url, {}, '{}', { timeoutMs: 2_000, allowPrivate: false });
    // localhost resolves to a loopback address now, whatever it did when the endpoint was saved.
    const byName = await send(`https://localhost:${receiver.port}/webhooks`);
    expect(byName).toMatchObject({ delivered: false, error: 'refused', detail: expect.stringContaining('refused to connect') });
    expect(await send(`https://127.0.0.1:${receiver.port}/webhooks`)).toMatchObject({
      delivered: false,
      error: 'refused',
      detail: expect.stringContaining('loopback'),
    });
    expect(await send(receiver.url)).toMatchObject({ delivered: false, error: 'refused', detail: expect.stringContaining('https') });
    expect(receiver.received).toHaveLength(0);
  });

  it("tells a client only the category of an attempt's failure, on both surfaces; the log has the detail", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const down = await newEndpoint(['flowRun.triggered'], `http://127.0.0.1:${closedPort}/hooks`);
    const failing = await newEndpoint(['flowRun.triggered']);
    receiver.answer = () => 503;
    startWorker({ ...fastRetries, baseDelayMs: 60_000, maxDelayMs: 60_000 });
    await trigger(await newThread());
    const lastErrorOf = async (endpointId: string) => (await db.prisma.webhookDelivery.findFirst({ where: { endpointId } }))?.lastError;
    await expect.poll(() => lastErrorOf(down.id), { timeout: 10_000 }).toBe('refused');
    await expect.poll(() => lastErrorOf(failing.id), { timeout: 10_000 }).toBe('HTTP 503');
    const listed = await call(app, 'GET', `/public/v2/webhook-endpoints/${down.id}/deliveries`, { key: org.key });
    expect(listed.json.data[0].attributes).toMatchObject({ status: 'pending', attempts: 1, lastResponseStatus: null, lastError: 'refused' });
    expect(JSON.stringify(listed.json)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1:/);
    const graphql = await sendGraphQL<
      { webhookEndpoint: { deliveries: { edges: { node: { lastError: string; lastResponseStatus: number } }[] } } },
      unknown
    >(app, org.key, `query ($id: UUID!) { webhookEndpoint(id: $id) { deliveries { edges { node { lastError lastResponseStatus } } } } }`, {
      id: failing.id,
    });
    expect(graphql.data?.webhookEndpoint.deliveries.edges).toEqual([{ node: { lastError: 'HTTP 503', lastResponseStatus: 503 } }]);
  });
});
