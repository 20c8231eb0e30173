// A crash on the embedded database: `kill -9` in the middle of a stream of triggers, then
// a restart at once on the same data directory, as a supervisor would do. It must start
// (the dead process's lock died with it), and keep every run it acknowledged.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.ts';

const TRIGGERS = 200;
const CONCURRENCY = 10;
const JSON_API = 'application/vnd.api+json';

describe('restart right after a crash on the embedded database', () => {
  let parent: string;
  const started: ServerProcess[] = [];

  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'frg-crash-'));
  });
  afterAll(async () => {
    for (const server of started) if (server.process.exitCode === null && server.process.signalCode === null) server.process.kill('SIGKILL');
    await rm(parent, { recursive: true, force: true });
  });

  const start = async (dataDir: string) => {
    const server = await startServerProcess({ DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '0' });
    started.push(server);
    return server;
  };

  it(`keeps every acknowledged trigger when killed mid-stream (${TRIGGERS} at ${CONCURRENCY} concurrent) and restarts at once`, async () => {
    const dataDir = join(parent, 'db');
    const first = await start(dataDir);
    const key = (await readFile(join(dataDir, 'demo-api-key'), 'utf8')).trim();
    const send = (base: string, path: string, init: RequestInit = {}) =>
      fetch(`${base}${path}`, { ...init, headers: { authorization: key, 'content-type': JSON_API, ...init.headers } });
    const created = async (base: string, type: string, attributes: object) => {
      const response = await send(base, `/public/v2/${type === 'flows' ? 'flows' : 'message-threads'}`, {
        method: 'POST',
        body: JSON.stringify({ data: { type, attributes } }),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { data: { id: string } }).data.id;
    };
    const flowId = await created(first.base, 'flows', { name: 'Crash test' });
    const threadId = await created(first.base, 'messageThreads', { channel: 'web', identifier: 'crash-visitor' });

    const acknowledged: string[] = [];
    let sent = 0;
    let killedAfter = -1;
    const worker = async () => {
      while (sent < TRIGGERS) {
        sent++;
        try {
          const response = await send(first.base, '/public/v2/flow-runs', {
            method: 'POST',
            body: JSON.stringify({
              data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threadId, state: { n: sent }, initialMessage: {} } },
            }),
          });
          if (response.status === 201) acknowledged.push(((await response.json()) as { data: { id: string } }).data.id);
        } catch {
          // The connection died with the process: not acknowledged, nothing to check.
        }
        if (acknowledged.length >= TRIGGERS / 2 && killedAfter < 0) {
          killedAfter = acknowledged.length;
          first.process.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect((await first.exited).signal).toBe('SIGKILL');

    const restartedAt = Date.now();
    const second = await start(dataDir);
    const ready = await fetch(`${second.base}/readyz`);
    const restartMs = Date.now() - restartedAt;
    console.log(`crash-restart.test.ts: killed after ${killedAfter} acknowledged triggers; restarted and ready in ${restartMs} ms`);
    expect(ready.status).toBe(200);
    expect(restartMs).toBeLessThan(30_000);

    const missing: string[] = [];
    for (const id of acknowledged) {
      if ((await send(second.base, `/public/v2/flow-runs/${id}`)).status !== 200) missing.push(id);
    }
    expect(missing).toEqual([]);
    const response = await send(second.base, `/public/v2/flow-runs?filter[messageThreadId]=${threadId}&filter[status]=running`);
    expect(response.status).toBe(200);
    const running = (await response.json()) as { data: unknown[] };
    expect(running.data).toHaveLength(1);
  }, 180_000);
});
