// The webhook receiver of docs/WEBHOOKS.md, run as written (its code block, as a file of its own)
// against real deliveries: it accepts what the service signs and refuses a forgery.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FlowRunChange, systemClock } from '../../src/domain/flow-run-changes.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { startWebhookWorker, type WebhookWorker } from '../../src/jobs/webhook-worker.ts';
import { call } from '../rest/support.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';

const webhooksDoc = readFileSync(new URL('../../docs/WEBHOOKS.md', import.meta.url), 'utf8');
const receiverCode = /```js\n(\/\/ webhook-receiver\.mjs[\s\S]*?)```/.exec(webhooksDoc)?.[1];

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

describe.each(databaseTargets())('on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let worker: WebhookWorker | undefined;
  let directory: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    const changes = { publish: (committed: readonly FlowRunChange[]) => void (committed.length && worker?.wake()) };
    app = createApp({ db, services: { clock: systemClock, changes, webhookUrls: { allowPrivate: true } } });
    directory = mkdtempSync(join(tmpdir(), 'readme-receiver-'));
  });
  afterAll(async () => {
    await worker?.stop();
    await db?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it("docs/WEBHOOKS.md's receiver verifies real deliveries and refuses a forged one", async () => {
    expect(receiverCode, 'docs/WEBHOOKS.md has a ```js block starting // webhook-receiver.mjs').toBeDefined();
    const file = join(directory, 'webhook-receiver.mjs');
    writeFileSync(file, receiverCode!);
    const org = await createTestTenant(db);
    const port = await freePort();
    const created = await call(app, 'POST', '/public/v2/webhook-endpoints', {
      key: org.key,
      body: { data: { type: 'webhookEndpoints', attributes: { url: `http://127.0.0.1:${port}/`, events: ['flowRun.triggered'] } } },
    });
    const secret = created.json.meta.secret as string;

    const receiver = spawn(process.execPath, [file], { env: { ...process.env, WEBHOOK_SECRET: secret, PORT: String(port) } });
    let output = '';
    receiver.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    receiver.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await expect.poll(() => output, { timeout: 20_000 }).toContain('listening');

      // A forgery: a well-formed request whose signature was made with another secret.
      const forged = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: {
          'webhook-id': 'forged',
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')}`,
        },
        body: '{"type":"flowRun.triggered"}',
      });
      expect(forged.status).toBe(401);

      worker = startWebhookWorker(db.prisma, {
        clock: systemClock,
        retry: { baseDelayMs: 100, maxDelayMs: 1_000, windowMs: 60_000, leaseMs: 30_000 },
        pollIntervalMs: 100,
        timeoutMs: 5_000,
        allowPrivateUrls: true,
      });
      const flow = await call(app, 'POST', '/public/v2/flows', { key: org.key, body: { data: { type: 'flows', attributes: { name: 'Readme' } } } });
      const thread = await call(app, 'POST', '/public/v2/message-threads', {
        key: org.key,
        body: { data: { type: 'messageThreads', attributes: { channel: 'web', identifier: 'readme-receiver' } } },
      });
      const run = await call(app, 'POST', '/public/v2/flow-runs', {
        key: org.key,
        body: {
          data: { type: 'flowRuns', attributes: { flowId: flow.json.data.id, messageThreadId: thread.json.data.id, state: {}, initialMessage: {} } },
        },
      });
      await expect.poll(() => output, { timeout: 30_000 }).toContain(`flowRun.triggered ${run.json.data.id} running`);
      await expect
        .poll(async () => (await db.prisma.webhookDelivery.findFirstOrThrow({ where: { flowRunId: run.json.data.id } })).status, { timeout: 10_000 })
        .toBe('delivered');
    } finally {
      receiver.kill();
    }
  });
});
