// Webhooks with the service as operators run it (src/server.ts in processes of their own,
// on PostgreSQL): a delivery pending when an instance stops is delivered by the next one,
// and two instances on one database send each event once.
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from '../support/database.ts';
import { createTestTenant } from '../support/database.ts';
import { only } from '../support/items.ts';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { openDatabase } from '../../src/database/client.ts';

const serverUrl = process.env.TEST_DATABASE_URL;
if (!serverUrl) {
  console.log('webhooks/instances.test.ts: skipped on the embedded database (several instances need one shared PostgreSQL)');
}

const JSON_API = 'application/vnd.api+json';

describe.skipIf(!serverUrl)('webhooks across instances on PostgreSQL', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let key: string;
  let receiver: WebhookReceiver;
  const servers: ServerProcess[] = [];

  const start = async () => {
    const server = await startServerProcess({
      DATABASE_URL: scratch.url,
      RATE_LIMIT_PER_MINUTE: '0',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_RETRY_MAX_MS: '1000',
      WEBHOOK_POLL_INTERVAL_MS: '100',
    });
    servers.push(server);
    return server;
  };
  const stop = async (server: ServerProcess) => {
    server.process.kill('SIGTERM');
    await server.exited;
  };
  const rest = async (server: ServerProcess, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.base}/public/v2/${path}`, {
      method,
      headers: { Authorization: key, 'Content-Type': JSON_API, Accept: JSON_API },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) : undefined;
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const newEndpoint = async (server: ServerProcess) => {
    const created = await rest(server, 'POST', 'webhook-endpoints', {
      data: { type: 'webhookEndpoints', attributes: { url: receiver.url, events: ['flowRun.triggered'] } },
    });
    return created.meta.secret as string;
  };
  let counter = 0;
  let flowId: string;
  const trigger = async (server: ServerProcess) => {
    const thread = await rest(server, 'POST', 'message-threads', {
      data: { type: 'messageThreads', attributes: { channel: 'web', identifier: `instances-${counter++}` } },
    });
    const run = await rest(server, 'POST', 'flow-runs', {
      data: { type: 'flowRuns', attributes: { flowId, messageThreadId: thread.data.id, state: {}, initialMessage: {} } },
    });
    return run.data.id as string;
  };

  beforeAll(async () => {
    scratch = await createScratchDatabase(serverUrl!);
    const db = await openDatabase({ databaseUrl: scratch.url });
    key = (await createTestTenant(db)).key;
    await db.close();
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(stop));
    receiver.received.length = 0;
  });
  afterAll(async () => {
    await Promise.all(servers.map(stop));
    await receiver?.stop();
    await scratch?.drop();
  });

  it('delivers after a restart what was still pending when the instance stopped', async () => {
    const first = await start();
    flowId ??= (await rest(first, 'POST', 'flows', { data: { type: 'flows', attributes: { name: 'Instances' } } })).data.id;
    const secret = await newEndpoint(first);
    await receiver.stop(); // nobody listening: the delivery stays pending, retried
    const runId = await trigger(first);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await stop(first);
    await receiver.start();
    expect(receiver.received).toHaveLength(0);

    const second = await start();
    await receiver.waitFor((received) => received.length > 0, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(receiver.received).toHaveLength(1);
    const request = only(receiver.received, 'received webhook');
    const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [name, String(request.headers[name])]));
    const body = new Webhook(secret).verify(request.body, headers) as { data: { flowRun: { id: string } } };
    expect(body.data.flowRun.id).toBe(runId);
    const deliveries = await rest(second, 'GET', `webhook-endpoints/${(await rest(second, 'GET', 'webhook-endpoints')).data[0].id}/deliveries`);
    expect(deliveries.data[0].attributes.status).toBe('delivered');
    expect(deliveries.data[0].attributes.attempts).toBeGreaterThan(1);
  }, 180_000);

  it('sends each event once with two instances on one database', async () => {
    const [one, two] = await Promise.all([start(), start()]);
    flowId ??= (await rest(one, 'POST', 'flows', { data: { type: 'flows', attributes: { name: 'Instances' } } })).data.id;
    // Endpoints of the previous test go, so that only this one hears.
    for (const endpoint of (await rest(one, 'GET', 'webhook-endpoints')).data) await rest(one, 'DELETE', `webhook-endpoints/${endpoint.id}`);
    await newEndpoint(one);
    const EVENTS = 40;
    const runs = await Promise.all(Array.from({ length: EVENTS }, (_, i) => trigger(i % 2 ? one : two)));
    await receiver.waitFor((received) => new Set(received.map((request) => request.headers['webhook-id'])).size >= EVENTS, 60_000);
    // Time for a second sending of any of them to show up, were there one.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const ids = receiver.received.map((request) => String(request.headers['webhook-id']));
    expect(new Set(ids).size).toBe(EVENTS);
    expect(ids).toHaveLength(EVENTS);
    const delivered = new Set(receiver.received.map((request) => JSON.parse(request.body).data.flowRun.id));
    expect([...delivered].sort()).toEqual([...runs].sort());
  }, 180_000);
});
