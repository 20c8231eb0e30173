// A deploy's SIGTERM under load, against the service as a process: 20 clients loading
// pages of 100 runs over keep-alive connections and 5 slow uploads, then the signal.
// Every request sent before the signal must be answered (none reset), /readyz must say
// 503 from the signal on, and the process must exit 0. On the embedded database, and on
// PostgreSQL with TEST_DATABASE_URL.
import { afterAll, describe, expect, it } from 'vitest';
import { databaseTargets } from '../support/database.ts';
import { type ServerOnTarget, startServerOnTarget } from '../support/server-process.ts';
import { sleep, within } from './live-support.ts';

const CLIENTS = 20;
const SLOW_UPLOADS = 5;
const JSON_API = 'application/vnd.api+json';

describe.each(databaseTargets())('SIGTERM under load on $name', (target) => {
  let running: ServerOnTarget | undefined;
  afterAll(() => running?.dispose());

  it('answers every request sent before the signal, says not ready at once, and exits 0', async () => {
    // A load balancer's second to stop routing: the listener still accepts meanwhile.
    const env = { SHUTDOWN_GRACE_MS: '10000', SHUTDOWN_DELAY_MS: '1000', RATE_LIMIT_PER_MINUTE: '0' };
    running = await startServerOnTarget(target, env);
    const { server, key } = running;
    const { base } = server;
    const headers = { authorization: key, 'content-type': JSON_API };
    const post = async (path: string, type: string, attributes: object) => {
      const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify({ data: { type, attributes } }) });
      expect(response.status).toBe(201);
      return ((await response.json()) as { data: { id: string } }).data.id;
    };
    const flowId = await post('/public/v2/flows', 'flows', { name: 'Load' });
    const threads: string[] = [];
    for (let i = 0; i < 100; i++) {
      const threadId = await post('/public/v2/message-threads', 'messageThreads', { channel: 'web', identifier: `load-${i}` });
      threads.push(threadId);
      await post('/public/v2/flow-runs', 'flowRuns', { flowId, messageThreadId: threadId, state: { i }, initialMessage: {} });
    }

    let signalled = false;
    let signalledAt = 0;
    const outcomes: { sentAt: number; result: string }[] = [];
    const record = async (work: () => Promise<Response>) => {
      const entry = { sentAt: Date.now(), result: 'pending' };
      outcomes.push(entry);
      try {
        const response = await work();
        await response.arrayBuffer();
        entry.result = String(response.status);
      } catch (error) {
        entry.result = `failed: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`;
      }
    };
    const page = () => fetch(`${base}/public/v2/flow-runs?page[size]=100`, { headers });
    const loaders = Array.from({ length: CLIENTS }, async () => {
      while (!signalled) await record(page);
    });
    // An upload that trickles its body over ~1.5 s, straddling the signal.
    const slowUpload = (i: number) =>
      record(() => {
        const body = JSON.stringify({
          data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threads[i], state: { slow: i }, initialMessage: {} } },
        });
        const chunks = body.match(/.{1,20}/gs)!;
        const stream = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await sleep(1_500 / chunks.length);
            const chunk = chunks.shift();
            if (chunk === undefined) controller.close();
            else controller.enqueue(new TextEncoder().encode(chunk));
          },
        });
        return fetch(`${base}/public/v2/flow-runs`, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
      });

    await sleep(1_500);
    const uploads = Array.from({ length: SLOW_UPLOADS }, (_, i) => slowUpload(i));
    await sleep(500);
    signalled = true;
    signalledAt = Date.now();
    server.process.kill('SIGTERM');
    // Ready until the signal lands, then 503 (the process takes a moment to see it).
    let readiness: number | string = 200;
    for (let tries = 0; readiness === 200 && tries < 50; tries++) {
      readiness = await fetch(`${base}/readyz`).then(
        (response) => response.status,
        (error: Error) => `failed: ${error.message}`,
      );
      if (readiness === 200) await sleep(10);
    }
    await Promise.all([...loaders, ...uploads]);
    const { code, signal } = await within(20_000, 'the process to exit after SIGTERM', server.exited);

    const beforeSignal = outcomes.filter((entry) => entry.sentAt < signalledAt);
    const unanswered = beforeSignal.filter((entry) => entry.result.startsWith('failed'));
    const statuses = new Map<string, number>();
    for (const entry of beforeSignal) statuses.set(entry.result, (statuses.get(entry.result) ?? 0) + 1);
    console.log(
      `shutdown-under-load (${target.name}): ${beforeSignal.length} requests sent before SIGTERM, ` +
        `${unanswered.length} unanswered; outcomes ${JSON.stringify(Object.fromEntries(statuses))}; /readyz after the signal: ${readiness}`,
    );
    expect(unanswered.map((entry) => entry.result)).toEqual([]);
    expect(beforeSignal.every((entry) => entry.result === '200' || entry.result === '201')).toBe(true);
    expect(readiness).toBe(503);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  }, 180_000);
});
