// Replays every example exchange of the reference doc (test/fixtures/reference) against the
// JSON:API surface and compares the responses in shape (same keys in the same order,
// same value types, same link patterns) with the reference responses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { call, type ReferenceExample, referenceExamples, shapeText, TIMESTAMP } from './support.ts';

const examples = referenceExamples();
const UUID_PATH = /\{id\}/;

/**
 * The reference documents as this service must answer them. The one deliberate
 * difference (docs/API.md, "Decisions"): flows have a `flowRuns` relationship link besides
 * the two the reference shows, and lists have pagination `links` after `meta`.
 */
function expected(response: unknown): unknown {
  const copy = structuredClone(response) as Record<string, unknown>;
  for (const resource of (copy.included as Record<string, any>[] | undefined) ?? []) {
    if (resource.type === 'flows') {
      resource.relationships.flowRuns = { links: { related: `/public/v2/flow-runs?filter[flowId]=${resource.id}` } };
    }
  }
  if (Array.isArray(copy.data)) {
    const links = '/public/v2/flow-runs?page[number]=1&page[size]=25';
    copy.links = { self: links, first: links, last: links };
  }
  return copy;
}

describe.each(databaseTargets())('reference examples on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  const runIds: string[] = [];
  let flowId: string;
  let threadId: string;

  const example = (method: string, path: string, included?: string): ReferenceExample => {
    const found = examples.find(
      (candidate) =>
        candidate.method === method &&
        candidate.path === path &&
        (included === undefined || ((candidate.response as { included?: { type: string }[] }).included ?? [])[0]?.type === included),
    );
    if (!found) throw new Error(`no reference example ${method} ${path} ${included ?? ''}`);
    return found;
  };
  const replay = (ex: ReferenceExample, id?: string, query = '', body = ex.requestBody) =>
    call(app, ex.method, ex.path.replace(UUID_PATH, id ?? '') + query, {
      key,
      headers: Object.fromEntries(Object.entries(ex.headers).filter(([name]) => ['Accept', 'Content-Type'].includes(name))),
      ...(body !== undefined && { body }),
    });

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    ({ key } = await createTestTenant(db, 'write', 'Reference org'));
    const flow = await call(app, 'POST', '/public/v2/flows', {
      key,
      body: { data: { type: 'flows', attributes: { name: 'aperiam', reminderInterval: 15, reminderMessage: 'Are you still there?' } } },
    });
    expect(flow.status).toBe(201);
    flowId = flow.json.data.id;
    const thread = await call(app, 'POST', '/public/v2/message-threads', {
      key,
      body: { data: { type: 'messageThreads', attributes: { channel: 'whatsapp', identifier: '31652071191' } } },
    });
    expect(thread.status).toBe(201);
    threadId = thread.json.data.id;
  });
  afterAll(async () => {
    await db?.close();
  });

  it('covers every example exchange of the reference', () => {
    expect(examples.map((e) => `${e.method} ${e.path}`)).toEqual([
      'POST /public/v2/flow-runs',
      'GET /public/v2/flow-runs/{id}',
      'PATCH /public/v2/flow-runs/{id}',
      'GET /public/v2/flow_runs/{id}',
      'GET /public/v2/flow_runs/{id}',
      'GET /public/v2/flow-runs',
    ]);
  });

  it('POST with the reference body: 400 naming each non-writable attribute', async () => {
    const ex = example('POST', '/public/v2/flow-runs');
    const response = await replay(ex);
    expect(response.status).toBe(400);
    expect(response.json.errors.map((e: { source: { pointer: string } }) => e.source.pointer)).toEqual([
      '/data/attributes/context',
      '/data/attributes/status',
      '/data/attributes/publicApiInitiated',
    ]);
    for (const error of response.json.errors) {
      expect(error).toMatchObject({ status: '400', code: 'VALIDATION_FAILED', title: 'Invalid Request' });
    }
  });

  it('POST with the reference body less its non-writable members: 201 shaped as the reference', async () => {
    const ex = example('POST', '/public/v2/flow-runs');
    const { context, status, publicApiInitiated, ...attributes } = (ex.requestBody as any).data.attributes;
    const body = { data: { type: 'flowRuns', attributes: { ...attributes, flowId, messageThreadId: threadId } } };
    const response = await replay(ex, undefined, '', body);
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe(`/public/v2/flow-runs/${response.json.data.id}`);
    // The reference sends state as a string holding an object: it is stored as the object.
    expect(response.json.data.attributes.state).toEqual({ variable: 'value' });
    expect(response.json.data.attributes.createdAt).toMatch(TIMESTAMP);
    expect(shapeText(response.json)).toBe(shapeText(expected(ex.response)));
    runIds.push(response.json.data.id);
  });

  it('GET one: shaped as the reference', async () => {
    const ex = example('GET', '/public/v2/flow-runs/{id}');
    const response = await replay(ex, runIds[0]);
    expect(response.status).toBe(200);
    expect(shapeText(response.json)).toBe(shapeText(expected(ex.response)));
    expect(response.text).toContain('"meta":{}');
  });

  it('PATCH with the reference body: 400 naming each attribute PATCH does not take', async () => {
    const ex = example('PATCH', '/public/v2/flow-runs/{id}');
    const response = await replay(ex, runIds[0]);
    expect(response.status).toBe(400);
    expect(response.json.errors.map((e: { source: { pointer: string } }) => e.source.pointer)).toEqual([
      '/data/attributes/flowId',
      '/data/attributes/messageThreadId',
      '/data/attributes/context',
      '/data/attributes/publicApiInitiated',
    ]);
  });

  it('PATCH initialMessage: 400 "opening message can not be updated"', async () => {
    const ex = example('PATCH', '/public/v2/flow-runs/{id}');
    const response = await replay(ex, runIds[0], '', {
      data: { type: 'flowRuns', id: runIds[0], attributes: { initialMessage: {} } },
    });
    expect(response.status).toBe(400);
    expect(response.json.errors).toEqual([
      {
        status: '400',
        code: 'INITIAL_MESSAGE_IMMUTABLE',
        title: 'Invalid Request',
        detail: 'opening message can not be updated',
        source: { pointer: '/data/attributes/initialMessage' },
      },
    ]);
  });

  it('PATCH the documented example body (status finished, then state): shaped as the reference', async () => {
    const ex = example('PATCH', '/public/v2/flow-runs/{id}');
    const finished = await replay(ex, runIds[0], '', { data: { type: 'flowRuns', id: runIds[0], attributes: { status: 'finished' } } });
    expect(finished.status).toBe(200);
    expect(finished.json.data.attributes.status).toBe('finished');
    const response = await replay(ex, runIds[0], '', {
      data: { type: 'flowRuns', id: runIds[0], attributes: { state: { first_name: 'Henk' } } },
    });
    expect(response.status).toBe(200);
    expect(response.json.data.attributes.state).toEqual({ first_name: 'Henk' });
    expect(shapeText(response.json)).toBe(shapeText(expected(ex.response)));
  });

  it('GET flow_runs/{id}?include=flow: shaped as the reference', async () => {
    const ex = example('GET', '/public/v2/flow_runs/{id}', 'flows');
    const response = await replay(ex, runIds[0], '?include=flow');
    expect(response.status).toBe(200);
    expect(shapeText(response.json)).toBe(shapeText(expected(ex.response)));
    expect(response.json.included[0].id).toBe(flowId);
    expect(response.json.data.relationships.flow.data).toEqual({ type: 'flows', id: flowId });
  });

  it('GET flow_runs/{id}?include=messageThread: shaped as the reference', async () => {
    const ex = example('GET', '/public/v2/flow_runs/{id}', 'messageThreads');
    const response = await replay(ex, runIds[0], '?include=messageThread');
    expect(response.status).toBe(200);
    expect(shapeText(response.json)).toBe(shapeText(expected(ex.response)));
    expect(response.json.included[0].relationships.candidate).toEqual({ links: { related: null } });
  });

  it('GET the list: shaped as the reference', async () => {
    // Three runs in the organization, as in the reference (the first one is already there).
    for (let i = 0; i < 2; i += 1) {
      const created = await call(app, 'POST', '/public/v2/flow-runs', {
        key,
        body: { data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threadId, state: {}, initialMessage: {} } } },
      });
      expect(created.status).toBe(201);
    }
    const ex = example('GET', '/public/v2/flow-runs');
    const response = await replay(ex);
    expect(response.status).toBe(200);
    expect(shapeText(response.json)).toBe(shapeText(expected(ex.response)));
    expect(response.json.meta).toEqual({ total: 3, totalUnfiltered: 3, currentSize: 25, currentPage: 1, maxPage: 1 });
  });
});
