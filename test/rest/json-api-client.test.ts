// The REST surface from an integration's point of view: a maintained JSON:API client
// library (kitsu, over axios) against a real server on a port. What the library
// deserialises — flattened attributes, included relationships resolved, meta and links —
// is what an integration would work with.
import Kitsu from 'kitsu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { type RunningServer, serve } from '../../src/http/serve.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { at } from '../support/items.ts';

interface Related {
  data: { id: string; type: string; [attribute: string]: unknown } | null;
  links?: { related: string };
}
interface Run {
  id: string;
  type: string;
  status: string;
  cost: number;
  state: Record<string, unknown>;
  flowId: string;
  messageThreadId: string;
  flow: Related;
  messageThread: Related;
}

describe.each(databaseTargets())('a JSON:API client library (kitsu) on $name', (target) => {
  let db: TestDatabase;
  let server: RunningServer;
  let api: Kitsu;
  let flowId: string;
  let threadIds: string[];
  const runIds: string[] = [];

  beforeAll(async () => {
    db = await openTestDatabase(target);
    server = await serve(createApp({ db }), 0, '127.0.0.1');
    const { key } = await createTestTenant(db, 'write', 'Integration org');
    // kitsu: camelCase types (flowRuns), kebab-case paths (/flow-runs), as this API has them.
    api = new Kitsu({ baseURL: `http://127.0.0.1:${server.port}/public/v2`, headers: { Authorization: key } });

    const flow = (await api.post('flows', { name: 'Client flow', sessionTimeout: 30 })) as { data: { id: string; name: string } };
    flowId = flow.data.id;
    threadIds = [];
    for (const identifier of ['client-1', 'client-2']) {
      const thread = (await api.post('messageThreads', { channel: 'web', identifier })) as { data: { id: string } };
      threadIds.push(thread.data.id);
    }
    for (const messageThreadId of [threadIds[0], threadIds[0], threadIds[1]]) {
      const run = (await api.post(
        'flowRuns',
        { flowId, messageThreadId, state: { first_name: 'Henk' }, initialMessage: { type: 'text', text: 'Hi Henk' } },
        { headers: { 'Idempotency-Key': `client-${runIds.length}` } },
      )) as { data: Run };
      runIds.push(run.data.id);
    }
  });
  afterAll(async () => {
    await server?.close(1000);
    await db?.close();
  });

  it('creates: the deserialised run has its attributes and relationship links', async () => {
    const created = (await api.post('flowRuns', {
      flowId,
      messageThreadId: threadIds[1],
      state: {},
      initialMessage: {},
    })) as { data: Run };
    expect(created.data).toMatchObject({ type: 'flowRuns', status: 'queued', cost: 0, flowId, messageThreadId: threadIds[1] });
    expect(created.data.flow.links).toEqual({ related: `/public/v2/flows/${flowId}` });
    runIds.push(created.data.id);
  });

  it('lists with include=flow,messageThread: included resources resolved onto each run', async () => {
    const page = (await api.get('flowRuns', {
      params: { include: 'flow,messageThread', sort: 'createdAt', page: { size: 2 } },
    })) as { data: Run[]; meta: Record<string, number>; links: Record<string, string> };
    expect(page.data.map((run) => run.id)).toEqual(runIds.slice(0, 2));
    for (const run of page.data) {
      expect(run.flow.data).toMatchObject({ id: flowId, type: 'flows', name: 'Client flow', sessionTimeout: 30 });
      expect(run.messageThread.data).toMatchObject({ id: run.messageThreadId, type: 'messageThreads', channel: 'web' });
    }
    expect(page.data[0]?.messageThread.data?.identifier).toBe('client-1');
    expect(page.meta).toEqual({ total: 4, totalUnfiltered: 4, currentSize: 2, currentPage: 1, maxPage: 2 });
    expect(page.links.next).toContain('page[number]=2');

    const filtered = (await api.get('flowRuns', { params: { filter: { messageThreadId: threadIds[1], status: 'queued' } } })) as { data: Run[] };
    expect(filtered.data.map((run) => run.id)).toEqual([runIds[3]]);
  });

  it('gets one, with a sparse fieldset', async () => {
    const one = (await api.get(`flowRuns/${runIds[0]}`, {
      params: { include: 'flow', fields: { flowRuns: 'status,state,flow', flows: 'name' } },
    })) as { data: Run };
    expect(one.data).toMatchObject({ id: runIds[0], type: 'flowRuns', status: 'running', state: { first_name: 'Henk' } });
    expect(one.data.cost).toBeUndefined();
    expect(one.data.flow.data).toEqual({ id: flowId, type: 'flows', name: 'Client flow' });
  });

  it('updates: PATCH status finished promotes the next run of the thread', async () => {
    const patched = (await api.patch('flowRuns', { id: runIds[0], status: 'finished' })) as { data: Run };
    expect(patched.data).toMatchObject({ id: runIds[0], status: 'finished' });
    const next = (await api.get(`flowRuns/${runIds[1]}`)) as { data: Run };
    expect(next.data.status).toBe('running');
  });

  it('deletes, and a deleted run is a 404 the library reports as an error', async () => {
    await api.delete('flowRuns', at(runIds, 1));
    const failure = await api.get(`flowRuns/${runIds[1]}`).catch((error: unknown) => error);
    expect(failure).toMatchObject({ response: { status: 404 } });
    expect((failure as { errors: { code: string }[] }).errors[0]?.code).toBe('NOT_FOUND');
    const rest = (await api.get('flowRuns', { params: { filter: { messageThreadId: threadIds[0] } } })) as { data: Run[] };
    expect(rest.data.map((run) => run.id)).toEqual([runIds[0]]);
  });

  it('a retried trigger with the same Idempotency-Key gets the same run', async () => {
    const retry = (await api.post(
      'flowRuns',
      { flowId, messageThreadId: threadIds[1], state: { first_name: 'Henk' }, initialMessage: { type: 'text', text: 'Hi Henk' } },
      { headers: { 'Idempotency-Key': 'client-2' } },
    )) as { data: Run };
    expect(retry.data.id).toBe(runIds[2]);
  });
});
