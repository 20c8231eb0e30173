// Bad input on the JSON:API surface, answered in the surface's own terms: an explicit
// `null` is not an absent member, a wrong-typed value is a 400 that says what is accepted
// (never in GraphQL's words), and a page number whose offset does not fit is a 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/graphql/schema.ts';
import { defaultServices } from '../../src/domain/tenant.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { RESOURCES } from '../../src/rest/routes.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { defined } from '../support/items.ts';
import { postThread } from '../support/rest-fixtures.ts';
import { call, type CallOptions } from './support.ts';

type ErrorObject = { code: string; detail: string; source?: { pointer?: string; parameter?: string } };

// The names a REST client has never been told about. `UUID` and `JSON` are left out: they
// are also plain words of the API ("flowId: must be a UUID", "state: must be a JSON object").
const PLAIN_WORDS = new Set(['UUID', 'JSON']);
const GRAPHQL_TYPE_NAMES = Object.keys(schema.getTypeMap()).filter((name) => !name.startsWith('__') && !PLAIN_WORDS.has(name));
const namesIn = (detail: string) => GRAPHQL_TYPE_NAMES.filter((name) => new RegExp(`\\b${name}\\b`).test(detail));

/** Values of every JSON kind, each wrong for most attributes. */
const WRONG_VALUES: unknown[] = [42, 4.5, 2 ** 40, true, 'not-a-valid-value', '2024-13-45T99:00:00Z', [1], { a: 1 }];

describe.each(databaseTargets())('bad input on the JSON:API surface on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let flowId: string;
  let threadId: string;
  let runId: string;
  let endpointId: string;
  let counter = 0;
  // A receiver on loopback: the operator's switch lets it through, so a refusal below is about the wrong-typed value.
  const endpoint = () => ({ url: `http://127.0.0.1:9/hooks/${++counter}`, events: ['flowRun.triggered'] });

  const request = (method: string, url: string, options: CallOptions = {}) => call(app, method, url, { key, ...options });
  const patch = (path: string, type: string, id: string, attributes: unknown) =>
    request('PATCH', `/public/v2/${path}/${id}`, { body: { data: { type, id, attributes } } });
  const create = async (path: string, type: string, attributes: Record<string, unknown>) => {
    const response = await request('POST', `/public/v2/${path}`, { body: { data: { type, attributes } } });
    expect(response.status, JSON.stringify(response.json)).toBe(201);
    return response.json.data.id as string;
  };
  const newThread = () => postThread(app, key, 'web', 'bad-input');

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db, services: { ...defaultServices, webhookUrls: { allowPrivate: true } } });
    key = (await createTestTenant(db, 'write', 'Bad input org')).key;
    flowId = await create('flows', 'flows', { name: 'Bad input', reminderInterval: 15 });
    threadId = await newThread();
    runId = await create('flow-runs', 'flowRuns', { flowId, messageThreadId: threadId, state: {}, initialMessage: {} });
    endpointId = await create('webhook-endpoints', 'webhookEndpoints', endpoint());
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
          expect.objectContaining({
            code: 'VALIDATION_FAILED',
            detail: `${name}: must not be null`,
            source: { pointer: `/data/attributes/${name}` },
          }),
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
      expect(flow.json.errors[0]).toMatchObject({
        detail: 'sessionTimeout: must not be null',
        source: { pointer: '/data/attributes/sessionTimeout' },
      });
      const run = await request('POST', '/public/v2/flow-runs', {
        body: { data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threadId, state: null, initialMessage: {} } } },
      });
      expect(run.status).toBe(400);
      expect(run.json.errors[0]).toMatchObject({ detail: 'state: must not be null', source: { pointer: '/data/attributes/state' } });
    });

    it('nullable attributes may still be set to null', async () => {
      const flow = await patch('flows', 'flows', flowId, {
        reminderInterval: null,
        reminderMessage: null,
        publishedAt: null,
        flowGenerationId: null,
      });
      expect(flow.status).toBe(200);
      expect(flow.json.data.attributes).toMatchObject({ reminderInterval: null, reminderMessage: null, publishedAt: null, flowGenerationId: null });
      const thread = await patch('message-threads', 'messageThreads', threadId, { candidateId: null });
      expect(thread.status).toBe(200);
      expect(thread.json.data.attributes.candidateId).toBeNull();
      const created = await request('POST', '/public/v2/flows', {
        body: { data: { type: 'flows', attributes: { name: 'Nulls', reminderMessage: null } } },
      });
      expect(created.status).toBe(201);
    });
  });

  describe('errors in the terms of the API', () => {
    it('a wrong-typed status says which statuses are accepted', async () => {
      const response = await patch('flow-runs', 'flowRuns', runId, { status: 5 });
      expect(response.status).toBe(400);
      expect(response.json.errors).toEqual([
        expect.objectContaining({
          code: 'VALIDATION_FAILED',
          detail: 'status: must be one of finished, timeout, cancelled, exception',
          source: { pointer: '/data/attributes/status' },
        }),
      ]);
      const channel = await request('POST', '/public/v2/message-threads', {
        body: { data: { type: 'messageThreads', attributes: { channel: 3, identifier: 'x' } } },
      });
      expect(channel.json.errors[0].detail).toBe('channel: must be one of whatsapp, sms, email, web');
    });

    it('every writable attribute of every resource, wrong-typed on create and update: 400s with pointers, no GraphQL type names', async () => {
      const valid: Record<string, () => Promise<Record<string, unknown>>> = {
        flowRuns: async () => ({ flowId, messageThreadId: await newThread(), state: {}, initialMessage: {} }),
        flows: async () => ({ name: 'Swept' }),
        messageThreads: async () => {
          counter += 1;
          return { channel: 'web', identifier: `swept-${counter}` };
        },
        webhookEndpoints: async () => endpoint(),
      };
      const existing: Record<string, string> = {
        flowRuns: runId,
        flows: flowId,
        messageThreads: threadId,
        webhookEndpoints: endpointId,
      };
      let refused = 0;
      for (const resource of RESOURCES) {
        const path = resource.paths[0];
        for (const [kind, attributes] of [
          ['create', resource.createAttributes],
          ['update', resource.updateAttributes],
        ] as const) {
          for (const attribute of attributes) {
            for (const value of WRONG_VALUES) {
              const what = `${kind} ${resource.type}.${attribute} = ${JSON.stringify(value)}`;
              const response =
                kind === 'create'
                  ? await request('POST', `/public/v2/${path}`, {
                      body: {
                        data: {
                          type: resource.type,
                          attributes: { ...(await defined(valid[resource.type], `valid ${resource.type}`)()), [attribute]: value },
                        },
                      },
                    })
                  : await patch(path, resource.type, defined(existing[resource.type], `existing ${resource.type}`), { [attribute]: value });
              expect(response.status, what).toBeLessThan(500);
              if (response.status < 400) continue;
              refused += 1;
              for (const error of response.json.errors as ErrorObject[]) {
                expect(error.source?.pointer, what).toMatch(new RegExp(`^/data/attributes/${attribute}(/|$)`));
                expect(namesIn(error.detail), `${what}: ${error.detail}`).toEqual([]);
                if (error.code === 'VALIDATION_FAILED') expect(error.detail, what).toMatch(new RegExp(`^${attribute}(\\.[\\w.]+)?: `));
              }
            }
          }
        }
      }
      expect(refused).toBeGreaterThan(100);
    });

    it('filter values: 400 naming the parameter and what it takes, no GraphQL type names', async () => {
      const cases: [string, string, string?][] = [
        ['filter[status]=5', 'filter[status]', 'filter[status]: must be one of queued, running, finished, timeout, cancelled, exception'],
        ['filter[status]=running,bogus', 'filter[status]'],
        ['filter[flowId]=x', 'filter[flowId]', 'filter[flowId]: must be a UUID'],
        ['filter[messageThreadId]=5', 'filter[messageThreadId]'],
      ];
      for (const resource of RESOURCES) {
        for (const name of Object.keys(resource.filterType?.getFields() ?? {})) {
          for (const value of ['x', '5', 'true']) cases.push([`filter[${name}]=${value}`, `filter[${name}]`]);
        }
      }
      for (const [query, parameter, detail] of cases) {
        const response = await request('GET', `/public/v2/flow-runs?${query}`);
        if (response.status === 200) continue;
        expect(response.status, query).toBe(400);
        for (const error of response.json.errors as ErrorObject[]) {
          expect(error.source, query).toEqual({ parameter });
          expect(namesIn(error.detail), `${query}: ${error.detail}`).toEqual([]);
          if (detail) expect(error.detail).toBe(detail);
        }
      }
    });
  });

  describe('page numbers', () => {
    it('a page[number] whose offset would not fit is a 400 naming the parameter, not a 500', async () => {
      for (const query of ['page[number]=100000000', 'page[number]=40000002', 'page[number]=10000002&page[size]=100']) {
        const response = await request('GET', `/public/v2/flow-runs?${query}`);
        expect(response.status, query).toBe(400);
        expect(response.json.errors).toEqual([expect.objectContaining({ code: 'INVALID_QUERY_PARAMETER', source: { parameter: 'page[number]' } })]);
      }
      // The last page that can be asked for: offset 1,000,000,000.
      for (const query of ['page[number]=40000001', 'page[number]=10000001&page[size]=100']) {
        const response = await request('GET', `/public/v2/flow-runs?${query}`);
        expect(response.status, query).toBe(200);
        expect(response.json.data).toEqual([]);
      }
    });
  });
});
