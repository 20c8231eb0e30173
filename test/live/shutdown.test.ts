// Graceful shutdown: in process, close() refuses new connections once those queued on the
// listener are accepted (at once when idle), lets a request
// in flight finish, ends WebSocket and SSE subscriptions and resolves; as a process,
// SIGTERM stops the server cleanly with exit code 0.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/flow-run-changes.ts';
import { createFlowRunChangeBus, type FlowRunChangeBus } from '../../src/events/flow-run-change-bus.ts';
import { type App, createApp } from '../../src/http/app.ts';
import { serve } from '../../src/http/serve.ts';
import { startServerProcess } from '../support/server-process.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { at } from '../support/items.ts';
import { Inbox, readEventStream, sleep, sseRequest, subscribeSse, subscribeWs, untilListening, within, wsClient } from './live-support.ts';

/** Connection attempts 50 ms apart until one is refused; resolves with its error code. */
async function untilRefused(port: number): Promise<string> {
  for (;;) {
    const outcome = await tryConnect(port);
    if (outcome !== 'connected') return outcome;
    await sleep(50);
  }
}

/** Resolves with the error code of a TCP connection attempt ('connected' if it succeeded). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('graceful shutdown in process', () => {
  const target = at(databaseTargets(), 0); // independent of the database: the embedded one
  let db: TestDatabase;
  let bus: FlowRunChangeBus;
  let app: App;
  let org: TestTenant;

  /** The app, with requests to ?slow=<ms> held that long first; `onSlow` tells of their arrival and answer. */
  function slowApp(onSlow: (stage: 'arrived' | 'answered') => void): App {
    return {
      ...app,
      async fetch(request) {
        const slow = new URL(request.url).searchParams.get('slow');
        if (!slow) return app.fetch(request);
        onSlow('arrived');
        await sleep(Number(slow));
        const response = await app.fetch(request);
        onSlow('answered');
        return response;
      },
    };
  }

  beforeAll(async () => {
    db = await openTestDatabase(target);
    bus = createFlowRunChangeBus();
    app = createApp({ db, services: { clock: systemClock, changes: bus }, changeFeed: bus });
    org = await createTestTenant(db);
  });
  afterAll(async () => {
    await bus?.close();
    await db?.close();
  });

  it('finishes the request in flight, refuses new connections, ends subscriptions, then resolves', async () => {
    let slowArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
    const events: string[] = [];
    const server = await serve(
      slowApp((stage) => (stage === 'arrived' ? slowArrived() : events.push('handler answered'))),
      0,
      '127.0.0.1',
    );
    const base = `http://127.0.0.1:${server.port}`;
    const client = wsClient(server.port, org.key);
    const closedSockets: number[] = [];
    client.on('closed', (event) => closedSockets.push((event as { code: number }).code));
    try {
      const messageThreadId = randomUUID();
      const probe = { organizationId: org.organizationId, messageThreadId };
      const ws = subscribeWs(client, { messageThreadId });
      const sse = await subscribeSse((request) => fetch(request), org.key, { messageThreadId }, `${base}/graphql`);
      await untilListening(ws.inbox, bus, probe);
      await untilListening(sse.inbox, bus, probe);

      const slow = fetch(`${base}/healthz?slow=500`).then(async (response) => ({
        status: response.status,
        body: await response.json(),
      }));
      await within(5_000, 'the slow request to arrive', arrived);

      const closeStarted = Date.now();
      const closing = server.close(5_000).then(() => events.push('close resolved'));
      // A connection made while the listener's queue is being accepted is accepted too.
      expect(await within(2_000, 'a new connection attempt to be refused', untilRefused(server.port))).toBe('ECONNREFUSED');

      expect(await within(5_000, 'the request in flight', slow)).toEqual({ status: 200, body: { status: 'ok' } });
      await within(7_000, 'close() to resolve', closing);
      // close() waited for the request (about 500 ms), not for its whole grace period.
      expect(events).toEqual(['handler answered', 'close resolved']);
      expect(Date.now() - closeStarted).toBeLessThan(3_000);

      // Both subscriptions were ended by the server, not left hanging.
      await ws.inbox.until(() => ws.inbox.ended, 2_000, 'the WebSocket subscription to end');
      await sse.inbox.until(() => sse.inbox.ended, 2_000, 'the SSE stream to end');
      // Completed by the server (`event: complete`), not cut off.
      expect(sse.inbox.endError).toBeUndefined();
      expect(closedSockets.length).toBeGreaterThan(0);
      expect(ws.inbox.changes()).toEqual([]);
    } finally {
      await client.dispose();
      await server.close(0).catch(() => {});
    }
  });

  it('waits no longer than the grace period for a request that takes too long', async () => {
    let slowArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
    const server = await serve(
      slowApp((stage) => stage === 'arrived' && slowArrived()),
      0,
      '127.0.0.1',
    );
    const slow = fetch(`http://127.0.0.1:${server.port}/healthz?slow=3000`).then(
      (response) => response.status,
      () => 'connection closed',
    );
    await within(5_000, 'the slow request to arrive', arrived);
    const started = Date.now();
    await within(2_000, 'close() to give up waiting', server.close(200));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(await within(5_000, 'the cut request to settle', slow)).toBe('connection closed');
  });
});

describe('graceful shutdown of the process', () => {
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gateway-shutdown-'));
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('SIGTERM: stops cleanly, logs "stopped" and exits 0 within 15 s; everything on stdout is a JSON log line', async () => {
    const server = await startServerProcess({ DATA_DIR: join(dataDir, 'db'), SHUTDOWN_GRACE_MS: '5000' });
    child = server.process;
    const { port, exited } = server;
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // An open subscription must not keep the process from stopping.
    const demoKey = (await readFile(join(dataDir, 'db', 'demo-api-key'), 'utf8')).trim();
    const inbox = new Inbox();
    const stream = await fetch(sseRequest(`${base}/graphql`, demoKey, { messageThreadId: randomUUID() }));
    expect(stream.status).toBe(200);
    const reading = readEventStream(stream, inbox);

    const started = Date.now();
    server.process.kill('SIGTERM');
    const { code, signal } = await within(15_000, 'the process to exit after SIGTERM', exited);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    console.log(`shutdown.test.ts: the server exited ${Date.now() - started} ms after SIGTERM`);
    // Start to stop, every line is JSON from the one logger (server.log() throws on any other).
    const log = server.log();
    expect(log.every((line) => line.service === 'flow-run-gateway' && typeof line.level === 'number')).toBe(true);
    const messages = log.map((line) => line.msg);
    // The embedded demo listens on loopback only: the URL names the address it listens on.
    expect(log.find((line) => line.msg === 'listening')).toMatchObject({ level: 30, port, url: `http://127.0.0.1:${port}/graphql` });
    expect(log.find((line) => line.msg === 'stopping')).toMatchObject({ level: 30, signal: 'SIGTERM' });
    expect(messages.at(-1)).toBe('stopped');
    // The demo key is written to its file, never to the log.
    expect(server.output().stdout).not.toContain(demoKey);
    await within(2_000, 'the SSE stream to end', reading);
    expect(inbox.ended).toBe(true);
    expect(await within(2_000, 'a connection after exit', tryConnect(port))).toBe('ECONNREFUSED');
    // The embedded database alone can take most of a minute to start on the loaded CI machine.
  }, 150_000);
});
