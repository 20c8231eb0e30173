// SIGTERM under load with the default settings (no SHUTDOWN_DELAY_MS): the event loop is
// busy answering 20 clients' pages of 100 runs over kept-alive connections while other
// clients open a new connection per request, so requests wait unread in the kernel, some
// on connections not yet accepted. Every request a client sent 100 ms or more before the
// signal must get a complete HTTP answer (not a reset), and the process must exit 0. On
// the embedded database, and on PostgreSQL with TEST_DATABASE_URL.
import { request as httpRequest } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseTargets } from '../support/database.ts';
import { type ServerOnTarget, startServerOnTarget } from '../support/server-process.ts';
import { sleep, within } from './live-support.ts';

const KEPT_ALIVE_CLIENTS = 20;
const NEW_CONNECTION_CLIENTS = 10;
const JSON_API = 'application/vnd.api+json';
const PAGE = '/public/v2/flow-runs?page[size]=100';

interface Outcome {
  /** When the request was handed to the kernel (0 until then). */
  sentAt: number;
  result: string;
}

describe.each(databaseTargets())('SIGTERM under load with the default settings on $name', (target) => {
  let running: ServerOnTarget | undefined;
  afterAll(() => running?.dispose());

  /**
   * A GET on a connection of its own: `sentAt` is when its bytes were handed to the kernel,
   * the result the status once the whole body arrived (as long as Content-Length says).
   */
  function onNewConnection(port: number, key: string): { outcome: Outcome; done: Promise<void> } {
    const outcome: Outcome = { sentAt: 0, result: 'pending' };
    const done = new Promise<void>((resolve) => {
      const request = httpRequest({ host: '127.0.0.1', port, path: PAGE, agent: false, headers: { authorization: key } }, (response) => {
        let received = 0;
        response.on('data', (chunk: Buffer) => (received += chunk.length));
        response.on('end', () => {
          const expected = Number(response.headers['content-length'] ?? received);
          outcome.result = received === expected ? String(response.statusCode) : `incomplete: ${received} of ${expected} bytes`;
          resolve();
        });
        response.on('error', (error) => {
          outcome.result = `failed: ${error.message}`;
          resolve();
        });
      });
      request.on('finish', () => (outcome.sentAt = Date.now()));
      request.on('error', (error: NodeJS.ErrnoException) => {
        outcome.result = `failed: ${error.code ?? error.message}`;
        resolve();
      });
      request.end();
    });
    return { outcome, done };
  }

  it('answers every request sent 100 ms or more before the signal and exits 0', async () => {
    // Nothing but the database set: the rate limit's default (6,000 a minute) is far above
    // the few hundred requests this sends.
    running = await startServerOnTarget(target, {});
    const { server, key } = running;
    const { base, port } = server;
    const headers = { authorization: key, 'content-type': JSON_API };
    const post = async (path: string, type: string, attributes: object) => {
      const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify({ data: { type, attributes } }) });
      expect(response.status).toBe(201);
      return ((await response.json()) as { data: { id: string } }).data.id;
    };
    const flowId = await post('/public/v2/flows', 'flows', { name: 'Load' });
    for (let i = 0; i < 100; i++) {
      const threadId = await post('/public/v2/message-threads', 'messageThreads', { channel: 'web', identifier: `load-${i}` });
      await post('/public/v2/flow-runs', 'flowRuns', { flowId, messageThreadId: threadId, state: { i }, initialMessage: {} });
    }

    let signalled = false;
    const outcomes: Outcome[] = [];
    const keptAlive = Array.from({ length: KEPT_ALIVE_CLIENTS }, async () => {
      while (!signalled) {
        const outcome: Outcome = { sentAt: Date.now(), result: 'pending' };
        outcomes.push(outcome);
        try {
          const response = await fetch(`${base}${PAGE}`, { headers: { authorization: key } });
          await response.arrayBuffer();
          outcome.result = String(response.status);
        } catch (error) {
          outcome.result = `failed: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`;
        }
      }
    });
    const newConnections = Array.from({ length: NEW_CONNECTION_CLIENTS }, async () => {
      while (!signalled) {
        const { outcome, done } = onNewConnection(port, key);
        outcomes.push(outcome);
        await done;
      }
    });

    await sleep(2_000);
    signalled = true;
    const signalledAt = Date.now();
    server.process.kill('SIGTERM');
    await Promise.all([...keptAlive, ...newConnections]);
    const { code, signal } = await within(30_000, 'the process to exit after SIGTERM', server.exited);

    const sent = outcomes.filter((entry) => entry.sentAt > 0 && entry.sentAt < signalledAt);
    const wellBefore = sent.filter((entry) => entry.sentAt <= signalledAt - 100);
    const tally = (entries: Outcome[]) => {
      const counts = new Map<string, number>();
      for (const entry of entries) counts.set(entry.result, (counts.get(entry.result) ?? 0) + 1);
      return JSON.stringify(Object.fromEntries(counts));
    };
    console.log(
      `shutdown-defaults (${target.name}): ${wellBefore.length} requests sent ≥100 ms before SIGTERM: ${tally(wellBefore)}; ` +
        `${sent.length - wellBefore.length} in the last 100 ms: ${tally(sent.filter((entry) => !wellBefore.includes(entry)))}; ` +
        `exit ${code ?? signal}`,
    );
    expect(wellBefore.length).toBeGreaterThan(0);
    expect(wellBefore.filter((entry) => entry.result !== '200').map((entry) => entry.result)).toEqual([]);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  }, 180_000);
});
