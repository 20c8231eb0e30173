// One organization's endpoints that never answer must not hold back another's deliveries:
// organization A has 10 endpoints, each a real server on 127.0.0.1 that takes the connection
// and never answers, and a backlog of events for each; organization B's event still reaches
// B within a second. Under the defaults a deployment runs: the worker's concurrency and
// limits, and the 10 s attempt timeout, so A's attempts hang for the whole test.
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRunChange } from '../../src/domain/flow-run-changes.ts';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { readConfig, webhookRetryPolicy } from '../../src/config.ts';
import { DEFAULT_CLAIM_LIMITS } from '../../src/domain/webhook-deliveries.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { startWebhookWorker, type WebhookWorker } from '../../src/jobs/webhook-worker.ts';
import { call } from '../rest/support.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { at } from '../support/items.ts';
import { postFlow, postRun, postThread } from '../support/rest-fixtures.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

interface HangingServer {
  url: string;
  /** Connections open now, and the most there were at once. */
  open: number;
  peak: number;
  accepted: number;
  close(): Promise<void>;
}

async function hangingServer(): Promise<HangingServer> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    hanging.accepted++;
    hanging.open++;
    hanging.peak = Math.max(hanging.peak, hanging.open);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      hanging.open--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hanging: HangingServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    open: 0,
    peak: 0,
    accepted: 0,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return hanging;
}

describe.each(databaseTargets())('fair webhook delivery on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let worker: WebhookWorker | undefined;
  let receiver: WebhookReceiver;
  const hanging: HangingServer[] = [];

  beforeAll(async () => {
    db = await openTestDatabase(target);
    receiver = await startWebhookReceiver();
    const publish = (committed: readonly FlowRunChange[]) => void (committed.length && worker?.wake());
    app = createApp({ db, services: { clock: systemClock, changes: { publish }, webhookUrls: { allowPrivate: true } } });
  });
  afterAll(async () => {
    // Closing A's servers ends the attempts under way, so that the worker stops at once.
    await Promise.all(hanging.map((server) => server.close()));
    await worker?.stop();
    await receiver?.stop();
    await db?.close();
  });

  async function organization(name: string) {
    const org = await createTestTenant(db, 'write', name);
    return { org, flowId: await postFlow(app, org.key, name) };
  }
  async function endpoint(org: TestTenant, url: string) {
    const created = await call(app, 'POST', '/public/v2/webhook-endpoints', {
      key: org.key,
      body: { data: { type: 'webhookEndpoints', attributes: { url, events: ['flowRun.triggered'] } } },
    });
    expect(created.status).toBe(201);
  }
  async function trigger(org: TestTenant, flowId: string) {
    const run = await postRun(app, org.key, flowId, await postThread(app, org.key));
    expect(run.status).toBe(201);
    return run.json.data.id as string;
  }

  it("delivers B's event within a second while A's 10 endpoints hang on every attempt", async () => {
    const a = await organization('Hanging org');
    const b = await organization('Healthy org');
    for (let i = 0; i < 10; i++) {
      const server = await hangingServer();
      hanging.push(server);
      await endpoint(a.org, server.url);
    }
    await endpoint(b.org, receiver.url);
    // A backlog for each of A's endpoints: 5 events each, 50 in all.
    for (let i = 0; i < 5; i++) await trigger(a.org, a.flowId);

    worker = startWebhookWorker(db.prisma, {
      clock: systemClock,
      retry: webhookRetryPolicy(readConfig({})),
      pollIntervalMs: 1_000,
      allowPrivateUrls: true,
    });
    const accepted = () => hanging.reduce((sum, server) => sum + server.accepted, 0);
    // A's attempts have taken every slot they may take.
    await expect.poll(accepted, { timeout: 10_000 }).toBeGreaterThanOrEqual(8);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const hangingAttempts = accepted();

    const started = Date.now();
    const runId = await trigger(b.org, b.flowId);
    await receiver.waitFor((received) => received.some((request) => request.body.includes(runId)), 15_000);
    const latency = at(receiver.received, 0, 'received webhook').receivedAt - started;
    console.log(
      `[${target.name}] B's delivery ${latency} ms after its trigger, while ${hangingAttempts} attempts to A's endpoints hang ` +
        `(at most ${Math.max(...hanging.map((server) => server.peak))} at once per endpoint)`,
    );
    expect(latency).toBeLessThan(1_000);
    // A holds no more than its share, and every one of its attempts is still hanging.
    expect(hangingAttempts).toBeLessThanOrEqual(DEFAULT_CLAIM_LIMITS.perOrganization);
    expect(hanging.every((server) => server.peak <= DEFAULT_CLAIM_LIMITS.perEndpoint)).toBe(true);
    expect(hanging.every((server) => server.open === server.accepted)).toBe(true);
  });
});
