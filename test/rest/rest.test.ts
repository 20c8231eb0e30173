// The JSON:API surface (docs/API.md) beyond the reference examples: the three resources,
// query parameters, writes and their rules, auth, media types and request errors. Every
// response body is validated against the JSON:API 1.1 schema by `call`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/domain/flow-run-input.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createKey, createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { exactly, type Tuple } from '../support/items.ts';
import { postFlow, postRun, postThread, runDocument } from '../support/rest-fixtures.ts';
import { call, type CallOptions, TIMESTAMP } from './support.ts';

const TEMPLATE = {
  type: 'template',
  template: { id: '7f9a9715-5e7c-4328-ab47-bb9e595438c9', components: [{ type: 'body', parameters: [{ type: 'text', text: 'John' }] }] },
};

describe.each(databaseTargets())('JSON:API surface on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let readOnlyKey: string;
  let otherKey: string;

  const request = (method: string, url: string, options: CallOptions = {}) => call(app, method, url, { key, ...options });
  const pointers = (json: { errors: { source?: { pointer?: string } }[] }) => json.errors.map((e) => e.source?.pointer);
  const parameters = (json: { errors: { source?: { parameter?: string } }[] }) => json.errors.map((e) => e.source?.parameter);

  const createFlow = (name = 'Screening', as = key) => postFlow(app, as, name);
  const createThread = (channel: Channel = 'web', as = key) => postThread(app, as, channel);
  const trigger = (flowId: string, messageThreadId: string, extra: Record<string, unknown> = {}) => postRun(app, key, flowId, messageThreadId, extra);
  const runBody = (flowId: string, messageThreadId: string) => runDocument(flowId, messageThreadId);

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
  });
  // Each test has organizations of its own: what another test wrote (runs, flows) is
  // invisible to it, whatever the order the tests run in.
  beforeEach(async () => {
    const org = await createTestTenant(db, 'write', 'REST org');
    key = org.key;
    readOnlyKey = await createKey(db, org.organizationId, 'read');
    otherKey = (await createTestTenant(db, 'write', 'Other org')).key;
  });
  afterAll(async () => {
    await db?.close();
  });

  describe('flow runs', () => {
    let flowId: string;
    let threads: [string, string];
    let runs: Tuple<{ id: string; thread: string }, 4>;

    beforeEach(async () => {
      const triggered = [];
      flowId = await createFlow('Runs flow');
      threads = [await createThread(), await createThread()];
      // Three runs on thread 0 (running, queued, queued), one on thread 1 (running).
      for (const thread of [threads[0], threads[0], threads[0], threads[1]]) {
        const response = await trigger(flowId, thread);
        expect(response.status).toBe(201);
        triggered.push({ id: response.json.data.id as string, thread });
      }
      runs = exactly(triggered, 4, 'runs');
    });

    it('POST: 201, Location, running then queued, timestamps without milliseconds', async () => {
      const first = await request('GET', `/public/v2/flow-runs/${runs[0].id}`);
      const second = await request('GET', `/public/v2/flow_runs/${runs[1].id}`);
      expect(first.json.data.attributes.status).toBe('running');
      expect(second.json.data.attributes.status).toBe('queued');
      expect(first.json.data.attributes.updatedAt).toMatch(TIMESTAMP);
      expect(Object.keys(first.json.data.attributes)).toEqual([
        'createdAt',
        'updatedAt',
        'flowId',
        'messageThreadId',
        'state',
        'initialMessage',
        'status',
        'cost',
      ]);
    });

    it('lists with filters, sort, pagination meta and links', async () => {
      const all = await request('GET', '/public/v2/flow-runs');
      expect(all.json.data).toHaveLength(4);
      // Default order: newest first.
      expect(all.json.data.map((r: { id: string }) => r.id)).toEqual(runs.map((r) => r.id).reverse());

      const filtered = await request('GET', `/public/v2/flow-runs?filter[messageThreadId]=${threads[0]}&filter[status]=running,queued`);
      expect(filtered.status).toBe(200);
      expect(filtered.json.meta).toEqual({ total: 3, totalUnfiltered: 4, currentSize: 25, currentPage: 1, maxPage: 1 });
      const queued = await request('GET', `/public/v2/flow-runs?filter[status]=queued&filter[flowId]=${flowId}`);
      expect(queued.json.data.map((r: { id: string }) => r.id).sort()).toEqual([runs[1].id, runs[2].id].sort());

      const sorted = await request('GET', '/public/v2/flow-runs?sort=status,createdAt');
      expect(sorted.json.data.map((r: { attributes: { status: string } }) => r.attributes.status)).toEqual([
        'queued',
        'queued',
        'running',
        'running',
      ]);
      const ascending = await request('GET', '/public/v2/flow-runs?sort=createdAt');
      expect(ascending.json.data.map((r: { id: string }) => r.id)).toEqual(runs.map((r) => r.id));

      const page = await request('GET', `/public/v2/flow_runs?sort=createdAt&filter[flowId]=${flowId}&page[number]=2&page[size]=3`);
      expect(page.json.data.map((r: { id: string }) => r.id)).toEqual([runs[3].id]);
      expect(page.json.meta).toEqual({ total: 4, totalUnfiltered: 4, currentSize: 3, currentPage: 2, maxPage: 2 });
      const base = `/public/v2/flow_runs?sort=createdAt&filter[flowId]=${flowId}`;
      expect(page.json.links).toEqual({
        self: `${base}&page[number]=2&page[size]=3`,
        first: `${base}&page[number]=1&page[size]=3`,
        prev: `${base}&page[number]=1&page[size]=3`,
        last: `${base}&page[number]=2&page[size]=3`,
      });
      const next = await request('GET', page.json.links.first);
      expect(next.json.links.next).toBe(page.json.links.self);
      expect(next.json.data).toHaveLength(3);

      const beyond = await request('GET', '/public/v2/flow-runs?page[number]=9');
      expect(beyond.status).toBe(200);
      expect(beyond.json.data).toEqual([]);
      expect(beyond.json.meta.maxPage).toBe(1);
    });

    it('includes flow and messageThread once each, with linkage data only when included', async () => {
      const response = await request('GET', `/public/v2/flow-runs?include=flow,messageThread&filter[messageThreadId]=${threads[0]}`);
      expect(response.status).toBe(200);
      expect(response.json.included.map((r: { type: string; id: string }) => `${r.type}:${r.id}`)).toEqual([
        `flows:${flowId}`,
        `messageThreads:${threads[0]}`,
      ]);
      for (const run of response.json.data) {
        expect(run.relationships.flow.data).toEqual({ type: 'flows', id: flowId });
        expect(run.relationships.messageThread.data).toEqual({ type: 'messageThreads', id: threads[0] });
      }
      const flowOnly = await request('GET', `/public/v2/flow-runs/${runs[0].id}?include=flow`);
      expect(flowOnly.json.data.relationships.messageThread).not.toHaveProperty('data');
      const none = await request('GET', `/public/v2/flow-runs/${runs[0].id}`);
      expect(none.json).not.toHaveProperty('included');
      expect(none.json.data.relationships.flow).not.toHaveProperty('data');
    });

    it('applies sparse fieldsets, also to included resources', async () => {
      const response = await request('GET', `/public/v2/flow-runs/${runs[0].id}?fields[flowRuns]=status,cost&include=flow&fields[flows]=name`);
      expect(response.status).toBe(200);
      expect(response.json.data.attributes).toEqual({ status: 'running', cost: 0 });
      expect(response.json.data).not.toHaveProperty('relationships');
      expect(response.json.included[0].attributes).toEqual({ name: 'Runs flow' });
      const withRelationship = await request('GET', `/public/v2/flow-runs?fields[flowRuns]=status,flow`);
      expect(Object.keys(withRelationship.json.data[0].relationships)).toEqual(['flow']);
    });

    it('costs the same number of SQL statements for 5 or 60 runs with both includes', async () => {
      const flow = await createFlow('Many');
      for (let i = 0; i < 60; i += 1) {
        const response = await trigger(flow, await createThread());
        expect(response.status).toBe(201);
      }
      const count = async (size: number) => {
        db.statements.length = 0;
        const response = await request('GET', `/public/v2/flow-runs?filter[flowId]=${flow}&include=flow,messageThread&page[size]=${size}`);
        expect(response.json.data).toHaveLength(size);
        expect(response.json.included).toHaveLength(size + 1);
        return db.statements.length;
      };
      expect(await count(60)).toBe(await count(5));
    });

    it('rejects unknown or invalid query parameters with source.parameter', async () => {
      const cases: [string, string][] = [
        ['/public/v2/flow-runs?foo=1', 'foo'],
        ['/public/v2/flow-runs?include=candidate', 'include'],
        ['/public/v2/flow-runs?sort=-flowId', 'sort'],
        ['/public/v2/flow-runs?page[size]=101', 'page[size]'],
        ['/public/v2/flow-runs?page[size]=0', 'page[size]'],
        ['/public/v2/flow-runs?page[number]=x', 'page[number]'],
        ['/public/v2/flow-runs?filter[cost]=3', 'filter[cost]'],
        ['/public/v2/flow-runs?filter[status]=paused', 'filter[status]'],
        ['/public/v2/flow-runs?filter[flowId]=nope', 'filter[flowId]'],
        ['/public/v2/flow-runs?fields[flowRuns]=secret', 'fields[flowRuns]'],
        ['/public/v2/flow-runs?fields[widgets]=a', 'fields[widgets]'],
        [`/public/v2/flow-runs/${runs[0].id}?sort=cost`, 'sort'],
        ['/public/v2/flows?filter[title]=x', 'filter[title]'],
        ['/public/v2/flows?include=flowRuns', 'include'],
      ];
      for (const [url, parameter] of cases) {
        const response = await request('GET', url);
        expect(response.status, url).toBe(400);
        expect(parameters(response.json), url).toEqual([parameter]);
        expect(response.json.errors[0].code).toBe('INVALID_QUERY_PARAMETER');
      }
      const hundred = await request('GET', '/public/v2/flow-runs?page[size]=100');
      expect(hundred.status).toBe(200);
      expect(hundred.json.meta.currentSize).toBe(100);
    });

    it('POST rejects non-writable attributes, missing and invalid values with pointers', async () => {
      const base = runBody(flowId, threads[1]).data.attributes;
      const cases: [Record<string, unknown>, string[], string?][] = [
        [{ ...base, cost: 3 }, ['/data/attributes/cost']],
        [{ ...base, status: 'running' }, ['/data/attributes/status']],
        [{ flowId, messageThreadId: threads[1], initialMessage: {} }, ['/data/attributes/state']],
        [{ ...base, flowId: 'not-a-uuid' }, ['/data/attributes/flowId']],
        [{ ...base, state: [1] }, ['/data/attributes/state'], 'VALIDATION_FAILED'],
        [{ ...base, state: { scheduleId: [] } }, ['/data/attributes/state/scheduleId'], 'VALIDATION_FAILED'],
      ];
      for (const [attributes, expected, code] of cases) {
        const response = await request('POST', '/public/v2/flow-runs', { body: { data: { type: 'flowRuns', attributes } } });
        expect(response.status, JSON.stringify(attributes)).toBe(400);
        expect(pointers(response.json)).toEqual(expected);
        if (code) expect(response.json.errors[0].code).toBe(code);
      }
    });

    it('POST checks the initial message against the channel (pointer into the message)', async () => {
      const whatsapp = await createThread('whatsapp');
      const bad = await trigger(flowId, whatsapp, { initialMessage: { ...TEMPLATE, template: { ...TEMPLATE.template, id: 'x' } } });
      expect(bad.status).toBe(400);
      expect(pointers(bad.json)).toEqual(['/data/attributes/initialMessage/template/id']);
      const text = await trigger(flowId, whatsapp, { initialMessage: { type: 'text', text: 'hi' } });
      expect(text.status).toBe(400);
      const good = await trigger(flowId, whatsapp, { initialMessage: TEMPLATE, state: '{"first_name":"Ann"}' });
      expect(good.status).toBe(201);
      expect(good.json.data.attributes.initialMessage).toEqual(TEMPLATE);
      expect(good.json.data.attributes.state).toEqual({ first_name: 'Ann' });
    });

    it('POST with a flow or thread of no one or of another organization: 422', async () => {
      const foreignFlow = await createFlow('Foreign', otherKey);
      for (const [flow, thread, pointer] of [
        [randomUUID(), threads[1], '/data/attributes/flowId'],
        [flowId, randomUUID(), '/data/attributes/messageThreadId'],
        [foreignFlow, threads[1], '/data/attributes/flowId'],
      ] as const) {
        const response = await trigger(flow, thread);
        expect(response.status).toBe(422);
        expect(response.json.errors[0]).toMatchObject({ code: 'REFERENCED_RESOURCE_NOT_FOUND', source: { pointer } });
      }
    });

    it('PATCH: status rules, state while running, non-writable attributes, id/type mismatch', async () => {
      const patch = (id: string, attributes: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
        request('PATCH', `/public/v2/flow-runs/${id}`, { body: { data: { type: 'flowRuns', id, attributes, ...extra } } });
      const thread = await createThread();
      const a = (await trigger(flowId, thread)).json.data.id;
      const b = (await trigger(flowId, thread)).json.data.id;

      const locked = await patch(a, { state: {} });
      expect(locked.status).toBe(409);
      expect(locked.json.errors[0]).toMatchObject({ code: 'STATE_LOCKED_WHILE_RUNNING', source: { pointer: '/data/attributes/state' } });
      const notSettable = await patch(a, { status: 'queued' });
      expect(notSettable.status).toBe(400);
      expect(notSettable.json.errors[0].code).toBe('STATUS_NOT_SETTABLE');
      const flowIdPatch = await patch(a, { flowId });
      expect(flowIdPatch.status).toBe(400);
      expect(pointers(flowIdPatch.json)).toEqual(['/data/attributes/flowId']);
      const costPatch = await patch(a, { cost: 1 });
      expect(pointers(costPatch.json)).toEqual(['/data/attributes/cost']);

      const finished = await patch(a, { status: 'finished' });
      expect(finished.status).toBe(200);
      expect(finished.json.data.attributes.status).toBe('finished');
      expect((await request('GET', `/public/v2/flow-runs/${b}`)).json.data.attributes.status).toBe('running');
      const again = await patch(a, { status: 'finished' });
      expect(again.status).toBe(200);
      const ended = await patch(a, { status: 'cancelled' });
      expect(ended.status).toBe(409);
      expect(ended.json.errors[0].code).toBe('RUN_ALREADY_ENDED');
      const erased = await patch(a, { state: '{}' });
      expect(erased.status).toBe(200);
      expect(erased.json.data.attributes.state).toEqual({});

      const wrongId = await request('PATCH', `/public/v2/flow-runs/${a}`, {
        body: { data: { type: 'flowRuns', id: b, attributes: { status: 'finished' } } },
      });
      expect(wrongId.status).toBe(409);
      expect(wrongId.json.errors[0]).toMatchObject({ code: 'RESOURCE_ID_MISMATCH', source: { pointer: '/data/id' } });
      const wrongType = await request('PATCH', `/public/v2/flow-runs/${a}`, {
        body: { data: { type: 'flows', id: a, attributes: {} } },
      });
      expect(wrongType.status).toBe(409);
      expect(wrongType.json.errors[0]).toMatchObject({ code: 'RESOURCE_TYPE_MISMATCH', source: { pointer: '/data/type' } });
      const noId = await request('PATCH', `/public/v2/flow-runs/${a}`, { body: { data: { type: 'flowRuns', attributes: {} } } });
      expect(noId.status).toBe(400);
      expect(pointers(noId.json)).toEqual(['/data/id']);
      const missing = randomUUID();
      const gone = await patch(missing, { status: 'finished' });
      expect(gone.status).toBe(404);
    });

    it('DELETE: 204 without a body, then 404', async () => {
      const thread = await createThread();
      const id = (await trigger(flowId, thread)).json.data.id;
      const deleted = await request('DELETE', `/public/v2/flow-runs/${id}`);
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      const again = await request('GET', `/public/v2/flow-runs/${id}`);
      expect(again.status).toBe(404);
      expect(again.json.errors[0]).toMatchObject({ status: '404', code: 'NOT_FOUND', detail: 'FlowRun not found' });
      expect((await request('DELETE', `/public/v2/flow-runs/${id}`)).status).toBe(404);
      expect((await request('GET', '/public/v2/flow-runs/not-a-uuid')).status).toBe(404);
    });
  });

  describe('flows and message threads', () => {
    it('flows: create, read, list, update, delete; 409 while it has runs', async () => {
      const created = await request('POST', '/public/v2/flows', {
        body: { data: { type: 'flows', attributes: { name: 'Intake', reminderInterval: 15, publishedAt: '2024-08-20T10:45:05+00:00' } } },
      });
      expect(created.status).toBe(201);
      const id = created.json.data.id;
      expect(created.headers.get('location')).toBe(`/public/v2/flows/${id}`);
      expect(Object.keys(created.json.data.attributes)).toEqual([
        'createdAt',
        'updatedAt',
        'name',
        'reminderInterval',
        'reminderMessage',
        'sessionTimeout',
        'publishedAt',
        'unpublishedChanges',
        'flowGenerationId',
      ]);
      expect(created.json.data.attributes).toMatchObject({ sessionTimeout: 1440, publishedAt: '2024-08-20T10:45:05+00:00' });
      expect(created.json.data.relationships).toEqual({
        flowGeneration: { links: { related: `/public/v2/flow-generations?filter[flowId]=${id}` } },
        nodes: { links: { related: `/public/v2/nodes?filter[flowId]=${id}` } },
        flowRuns: { links: { related: `/public/v2/flow-runs?filter[flowId]=${id}` } },
      });
      expect((await request('GET', `/public/v2/flows/${id}`)).json.data.attributes.name).toBe('Intake');
      const updated = await request('PATCH', `/public/v2/flows/${id}`, {
        body: { data: { type: 'flows', id, attributes: { name: 'Intake 2', sessionTimeout: 60 } } },
      });
      expect(updated.status).toBe(200);
      expect(updated.json.data.attributes).toMatchObject({ name: 'Intake 2', sessionTimeout: 60 });
      const invalid = await request('PATCH', `/public/v2/flows/${id}`, {
        body: { data: { type: 'flows', id, attributes: { sessionTimeout: 0 } } },
      });
      expect(invalid.status).toBe(400);
      expect(pointers(invalid.json)).toEqual(['/data/attributes/sessionTimeout']);
      const list = await request('GET', '/public/v2/flows?sort=name&page[size]=2');
      expect(list.status).toBe(200);
      expect(list.json.meta.currentSize).toBe(2);
      expect(list.json.meta.total).toBe(list.json.meta.totalUnfiltered);

      const thread = await createThread();
      const run = (await trigger(id, thread)).json.data.id;
      const refused = await request('DELETE', `/public/v2/flows/${id}`);
      expect(refused.status).toBe(409);
      expect(refused.json.errors[0].code).toBe('HAS_FLOW_RUNS');
      expect((await request('DELETE', `/public/v2/flow-runs/${run}`)).status).toBe(204);
      expect((await request('DELETE', `/public/v2/flows/${id}`)).status).toBe(204);
      expect((await request('GET', `/public/v2/flows/${id}`)).status).toBe(404);
    });

    it('message threads: create, read, list, update, delete; 409 on a duplicate', async () => {
      const body = { data: { type: 'messageThreads', attributes: { channel: 'whatsapp', identifier: '31699999999' } } };
      const created = await request('POST', '/public/v2/message-threads', { body });
      expect(created.status).toBe(201);
      const id = created.json.data.id;
      expect(created.headers.get('location')).toBe(`/public/v2/message-threads/${id}`);
      expect(created.json.data.relationships.candidate).toEqual({ links: { related: null } });
      expect((await request('POST', '/public/v2/message-threads', { body })).status).toBe(409);
      const badNumber = await request('POST', '/public/v2/message-threads', {
        body: { data: { type: 'messageThreads', attributes: { channel: 'sms', identifier: '+31 6' } } },
      });
      expect(badNumber.status).toBe(400);
      expect(pointers(badNumber.json)).toEqual(['/data/attributes/identifier']);
      const badChannel = await request('POST', '/public/v2/message-threads', {
        body: { data: { type: 'messageThreads', attributes: { channel: 'fax', identifier: '1' } } },
      });
      expect(pointers(badChannel.json)).toEqual(['/data/attributes/channel']);

      const candidateId = randomUUID();
      const updated = await request('PATCH', `/public/v2/message-threads/${id}`, {
        body: { data: { type: 'messageThreads', id, attributes: { candidateId } } },
      });
      expect(updated.status).toBe(200);
      expect(updated.json.data.relationships.candidate.links.related).toBe(`/public/v2/candidates/${candidateId}`);
      const list = await request('GET', '/public/v2/message-threads?sort=-identifier');
      expect(list.status).toBe(200);
      expect(list.json.data.length).toBeGreaterThan(0);
      expect((await request('DELETE', `/public/v2/message-threads/${id}`)).status).toBe(204);
      expect((await request('GET', `/public/v2/message-threads/${id}`)).status).toBe(404);
    });
  });

  describe('auth', () => {
    it('401 without a key or with an unknown key; Bearer works', async () => {
      const none = await call(app, 'GET', '/public/v2/flow-runs');
      expect(none.status).toBe(401);
      expect(none.json.errors[0]).toMatchObject({ status: '401', code: 'UNAUTHENTICATED' });
      expect((await call(app, 'GET', '/public/v2/flow-runs', { key: 'frg_nope' })).status).toBe(401);
      expect((await call(app, 'GET', '/public/v2/flow-runs', { key: `Bearer ${key}` })).status).toBe(200);
    });

    it('403 "access denied" for a read-only key writing; reads are fine', async () => {
      const flowId = await createFlow();
      const thread = await createThread();
      expect((await call(app, 'GET', '/public/v2/flow-runs', { key: readOnlyKey })).status).toBe(200);
      const denied = await call(app, 'POST', '/public/v2/flow-runs', { key: readOnlyKey, body: runBody(flowId, thread) });
      expect(denied.status).toBe(403);
      expect(denied.json.errors[0]).toMatchObject({ status: '403', code: 'READ_ONLY_KEY' });
      expect(denied.json.errors[0].detail).toContain('access denied');
      const run = (await trigger(flowId, thread)).json.data.id;
      expect((await call(app, 'DELETE', `/public/v2/flow-runs/${run}`, { key: readOnlyKey })).status).toBe(403);
    });

    it('another organization sees 404, as for a missing resource', async () => {
      const flowId = await createFlow();
      const thread = await createThread();
      const run = (await trigger(flowId, thread)).json.data.id;
      for (const url of [`/public/v2/flow-runs/${run}`, `/public/v2/flows/${flowId}`, `/public/v2/message-threads/${thread}`]) {
        expect((await call(app, 'GET', url, { key: otherKey })).status, url).toBe(404);
      }
      const patched = await call(app, 'PATCH', `/public/v2/flow-runs/${run}`, {
        key: otherKey,
        body: { data: { type: 'flowRuns', id: run, attributes: { status: 'finished' } } },
      });
      expect(patched.status).toBe(404);
      expect((await call(app, 'DELETE', `/public/v2/flow-runs/${run}`, { key: otherKey })).status).toBe(404);
      const list = await call(app, 'GET', '/public/v2/flow-runs', { key: otherKey });
      expect(list.json.data).toEqual([]);
    });
  });

  describe('media types and request errors', () => {
    let flowId: string;
    let thread: string;
    beforeEach(async () => {
      flowId = await createFlow();
      thread = await createThread();
    });

    it('415 for a body that is not application/vnd.api+json, or with foreign parameters', async () => {
      for (const contentType of [
        'application/json',
        'text/plain',
        'application/vnd.api+json; charset=utf-8',
        'application/vnd.api+json; ext="https://example.com/ext"',
      ]) {
        const response = await request('POST', '/public/v2/flow-runs', { body: runBody(flowId, thread), headers: { 'Content-Type': contentType } });
        expect(response.status, contentType).toBe(415);
        expect(response.json.errors[0].code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
      const profile = await request('POST', '/public/v2/flow-runs', {
        body: runBody(flowId, thread),
        headers: { 'Content-Type': 'application/vnd.api+json; profile="https://example.com/profile"' },
      });
      expect(profile.status).toBe(201);
    });

    it('406 when every JSON:API media type in Accept has parameters; */*, none or a plain one are fine', async () => {
      const refused = await request('GET', '/public/v2/flow-runs', { headers: { Accept: 'application/vnd.api+json; charset=utf-8' } });
      expect(refused.status).toBe(406);
      expect(refused.json.errors[0].code).toBe('NOT_ACCEPTABLE');
      for (const accept of [
        '*/*',
        'application/vnd.api+json',
        'application/vnd.api+json; charset=utf-8, application/vnd.api+json',
        'application/json',
      ]) {
        const response = await request('GET', '/public/v2/flow-runs', { headers: { Accept: accept } });
        expect(response.status, accept).toBe(200);
        expect(response.headers.get('content-type')).toBe('application/vnd.api+json');
      }
      const response = await app.fetch(new Request('http://test/public/v2/flow-runs', { headers: { Authorization: key } }));
      expect(response.status).toBe(200);
    });

    it('400 for malformed JSON and malformed documents, with pointers', async () => {
      const malformed = await request('POST', '/public/v2/flow-runs', {
        rawBody: '{"data": ',
        headers: { 'Content-Type': 'application/vnd.api+json' },
      });
      expect(malformed.status).toBe(400);
      expect(malformed.json.errors[0].code).toBe('MALFORMED_JSON');
      expect(malformed.text).not.toMatch(/at .*\.ts/);
      const cases: [unknown, string[]][] = [
        [{}, ['/data']],
        [{ data: [] }, ['/data']],
        [[1], ['']],
        [{ data: { attributes: {} } }, ['/data/type']],
        [{ data: { type: 'flowRuns', attributes: [] } }, ['/data/attributes']],
        [{ data: { type: 'flowRuns', attributes: {}, relationships: {} } }, ['/data/relationships']],
        [{ data: { type: 'flowRuns', attributes: {} }, included: [] }, ['/included']],
      ];
      for (const [body, expected] of cases) {
        const response = await request('POST', '/public/v2/flow-runs', { body });
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(pointers(response.json), JSON.stringify(body)).toEqual(expected);
      }
    });

    it('409 for a data.type of another resource; 403 for a client-generated id', async () => {
      const body = runBody(flowId, thread);
      const wrongType = await request('POST', '/public/v2/flow-runs', { body: { data: { ...body.data, type: 'flows' } } });
      expect(wrongType.status).toBe(409);
      expect(pointers(wrongType.json)).toEqual(['/data/type']);
      const clientId = await request('POST', '/public/v2/flow-runs', { body: { data: { ...body.data, id: randomUUID() } } });
      expect(clientId.status).toBe(403);
      expect(pointers(clientId.json)).toEqual(['/data/id']);
    });

    it('404 for an unknown route, 405 with Allow for a wrong method', async () => {
      for (const url of ['/public/v2/widgets', '/public/v2/flow-runs/a/b', '/public/v2/nodes']) {
        const response = await request('GET', url);
        expect(response.status, url).toBe(404);
        expect(response.json.errors[0].code).toBe('ROUTE_NOT_FOUND');
      }
      const put = await request('PUT', `/public/v2/flow-runs/${randomUUID()}`, { body: runBody(flowId, thread) });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('GET, PATCH, DELETE');
      const deleteAll = await request('DELETE', '/public/v2/flows');
      expect(deleteAll.status).toBe(405);
      expect(deleteAll.headers.get('allow')).toBe('GET, POST');
    });

    it('413 for a body over 1 MB, by Content-Length or by the bytes read', async () => {
      const big = {
        data: { type: 'flowRuns', attributes: { flowId, messageThreadId: thread, state: { blob: 'x'.repeat(1024 * 1024) }, initialMessage: {} } },
      };
      const response = await request('POST', '/public/v2/flow-runs', { body: big });
      expect(response.status).toBe(413);
      expect(response.json.errors[0].code).toBe('PAYLOAD_TOO_LARGE');
      const declared = await request('POST', '/public/v2/flow-runs', {
        body: runBody(flowId, thread),
        headers: { 'Content-Type': 'application/vnd.api+json', 'Content-Length': String(2 * 1024 * 1024) },
      });
      expect(declared.status).toBe(413);
    });
  });
});
