// Bad input on the JSON:API surface, answered in the surface's own terms: an explicit
// `null` is not an absent member.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { call, type CallOptions } from './support.ts';

type ErrorObject = { code: string; detail: string; source?: { pointer?: string; parameter?: string } };

describe.each(databaseTargets())('bad input on the JSON:API surface on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let flowId: string;
  let threadId: string;
  let runId: string;
  let counter = 0;

  const request = (method: string, url: string, options: CallOptions = {}) => call(app, method, url, { key, ...options });
  const patch = (path: string, type: string, id: string, attributes: unknown) =>
    request('PATCH', `/public/v2/${path}/${id}`, { body: { data: { type, id, attributes } } });
  const create = async (path: string, type: string, attributes: Record<string, unknown>) => {
    const response = await request('POST', `/public/v2/${path}`, { body: { data: { type, attributes } } });
    expect(response.status, JSON.stringify(response.json)).toBe(201);
    return response.json.data.id as string;
  };
  const newThread = () => {
    counter += 1;
    return create('message-threads', 'messageThreads', { channel: 'web', identifier: `bad-input-${counter}` });
  };

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db, 'write', 'Bad input org')).key;
    flowId = await create('flows', 'flows', { name: 'Bad input', reminderInterval: 15 });
    threadId = await newThread();
    runId = await create('flow-runs', 'flowRuns', { flowId, messageThreadId: threadId, state: {}, initialMessage: {} });
  });
  afterAll(async () => {
    await db?.close();
  });

  describe('null is not absent', () => {
    it('PATCH: null for a non-nullable attribute is a 400 pointing at it, and changes nothing', async () => {
      const cases: [string, string, string, Record<string, unknown>][] = [
        ['flow-runs', 'flowRuns', runId, { status: null }],
        ['flow-runs', 'flowRuns', runId, { state: null }],
        ['flows', 'flows', flowId, { name: null }],
        ['flows', 'flows', flowId, { sessionTimeout: null }],
        ['flows', 'flows', flowId, { unpublishedChanges: null }],
        ['message-threads', 'messageThreads', threadId, { channel: null }],
        ['message-threads', 'messageThreads', threadId, { identifier: null }],
      ];
      for (const [path, type, id, attributes] of cases) {
        const response = await patch(path, type, id, attributes);
        const name = Object.keys(attributes)[0];
        expect(response.status, `${path} ${name}`).toBe(400);
        expect(response.json.errors).toEqual([
          expect.objectContaining({ code: 'VALIDATION_FAILED', detail: `${name}: must not be null`, source: { pointer: `/data/attributes/${name}` } }),
        ]);
      }
      expect((await request('GET', `/public/v2/flow-runs/${runId}`)).json.data.attributes.status).toBe('running');
      expect((await request('GET', `/public/v2/flows/${flowId}`)).json.data.attributes).toMatchObject({
        name: 'Bad input',
        sessionTimeout: 1440,
      });
    });

    it('PATCH/POST: null or non-object "attributes" is a 400 at /data/attributes; absent attributes change nothing', async () => {
      for (const attributes of [null, 'status', 7, []]) {
        const response = await patch('flow-runs', 'flowRuns', runId, attributes);
        expect(response.status, JSON.stringify(attributes)).toBe(400);
        expect(response.json.errors.map((error: ErrorObject) => error.source?.pointer)).toEqual(['/data/attributes']);
      }
      const posted = await request('POST', '/public/v2/flows', { body: { data: { type: 'flows', attributes: null } } });
      expect(posted.status).toBe(400);
      expect(posted.json.errors.map((error: ErrorObject) => error.source?.pointer)).toEqual(['/data/attributes']);
      const absent = await request('PATCH', `/public/v2/flow-runs/${runId}`, { body: { data: { type: 'flowRuns', id: runId } } });
      expect(absent.status).toBe(200);
      expect(absent.json.data.attributes.status).toBe('running');
    });

    it('POST: null for a non-nullable attribute is a 400 too, even where leaving it out takes a default', async () => {
      const flow = await request('POST', '/public/v2/flows', { body: { data: { type: 'flows', attributes: { name: 'x', sessionTimeout: null } } } });
      expect(flow.status).toBe(400);
      expect(flow.json.errors[0]).toMatchObject({ detail: 'sessionTimeout: must not be null', source: { pointer: '/data/attributes/sessionTimeout' } });
      const run = await request('POST', '/public/v2/flow-runs', {
        body: { data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threadId, state: null, initialMessage: {} } } },
      });
      expect(run.status).toBe(400);
      expect(run.json.errors[0]).toMatchObject({ detail: 'state: must not be null', source: { pointer: '/data/attributes/state' } });
    });

    it('nullable attributes may still be set to null', async () => {
      const flow = await patch('flows', 'flows', flowId, { reminderInterval: null, reminderMessage: null, publishedAt: null, flowGenerationId: null });
      expect(flow.status).toBe(200);
      expect(flow.json.data.attributes).toMatchObject({ reminderInterval: null, reminderMessage: null, publishedAt: null, flowGenerationId: null });
      const thread = await patch('message-threads', 'messageThreads', threadId, { candidateId: null });
      expect(thread.status).toBe(200);
      expect(thread.json.data.attributes.candidateId).toBeNull();
      const created = await request('POST', '/public/v2/flows', { body: { data: { type: 'flows', attributes: { name: 'Nulls', reminderMessage: null } } } });
      expect(created.status).toBe(201);
    });
  });
});
