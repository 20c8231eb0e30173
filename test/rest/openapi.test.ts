// GET /public/v2/openapi.json: served without a key, a valid OpenAPI 3.1 document (by
// @seriousme/openapi-schema-validator), naming every route and method of routes.ts, and
// describing what the server really answers (responses checked against its schemas).
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { ALLOWED_METHODS, BASE_PATH, RESOURCES } from '../../src/rest/routes.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { call } from './support.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

describe.each(databaseTargets())('OpenAPI description on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let doc: Doc;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db)).key;
    const response = await app.fetch(new Request('http://test/public/v2/openapi.json'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    doc = await response.json();
  });
  afterAll(() => db.close());

  it('is served without an API key, and only for GET/HEAD', async () => {
    const head = await app.fetch(new Request('http://test/public/v2/openapi.json', { method: 'HEAD' }));
    expect(head.status).toBe(200);
    const post = await app.fetch(new Request('http://test/public/v2/openapi.json', { method: 'POST' }));
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('names every route of routes.ts with its methods, and itself', () => {
    const expected: string[] = [];
    for (const resource of RESOURCES) {
      for (const segment of resource.paths) {
        for (const method of ALLOWED_METHODS.collection) expected.push(`${method} ${BASE_PATH}/${segment}`);
        for (const method of ALLOWED_METHODS.item) expected.push(`${method} ${BASE_PATH}/${segment}/{id}`);
      }
      // Actions and nested lists, under the canonical spelling.
      for (const action of resource.actionPayloads.keys()) expected.push(`POST ${BASE_PATH}/${resource.paths[0]}/{id}/${action}`);
      for (const list of resource.nestedListDefinitions.keys()) expected.push(`GET ${BASE_PATH}/${resource.paths[0]}/{id}/${list}`);
    }
    expected.push(`GET ${BASE_PATH}/openapi.json`);
    const described = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(described.sort()).toEqual(expected.sort());
    expect(doc.paths[`${BASE_PATH}/openapi.json`].get.security).toEqual([]);
  });

  it('takes attributes, writable members, filters and sort fields from the GraphQL types', () => {
    const schemas = doc.components.schemas;
    for (const resource of RESOURCES) {
      expect(Object.keys(schemas[`${resource.graphqlType}Attributes`].properties)).toEqual(resource.attributes);
      const create = schemas[`${resource.graphqlType}CreateDocument`].properties.data.properties.attributes;
      expect(Object.keys(create.properties)).toEqual(resource.createAttributes);
      const update = schemas[`${resource.graphqlType}UpdateDocument`].properties.data.properties.attributes;
      expect(Object.keys(update.properties)).toEqual(resource.updateAttributes);
      const list = doc.paths[`${BASE_PATH}/${resource.paths[0]}`].get;
      const names = list.parameters.map((parameter: { name: string }) => parameter.name);
      for (const filter of Object.keys(resource.filterType?.getFields() ?? {})) expect(names).toContain(`filter[${filter}]`);
      for (const status of ['400', '401', '429']) expect(list.responses[status]).toBeDefined();
    }
    expect(schemas.FlowRunCreateDocument.properties.data.properties.attributes.required).toEqual([
      'flowId',
      'messageThreadId',
      'state',
      'initialMessage',
    ]);
    expect(schemas.FlowRunAttributes.properties.status.enum).toContain('running');
    // The idempotency key is a header, not an attribute.
    const trigger = doc.paths[`${BASE_PATH}/flow-runs`].post;
    expect(schemas.FlowRunCreateDocument.properties.data.properties.attributes.properties.idempotencyKey).toBeUndefined();
    expect(trigger.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header' }));
    expect(Object.keys(trigger.responses['201'].headers)).toEqual(['Location', 'Idempotent-Replayed']);
    // The lookup and polling filters, typed.
    const parameter = (path: string, name: string) =>
      doc.paths[`${BASE_PATH}/${path}`].get.parameters.find((candidate: { name: string }) => candidate.name === name);
    expect(parameter('flow-runs', 'filter[updatedSince]').schema).toMatchObject({ type: 'string', format: 'date-time' });
    expect(parameter('message-threads', 'filter[channel]').schema.enum).toEqual(['whatsapp', 'sms', 'email', 'web']);
    expect(parameter('message-threads', 'filter[identifier]').schema.type).toBe('string');
    expect(parameter('flows', 'filter[name]').schema.type).toBe('string');
    expect(schemas.ErrorObject.properties.meta.properties.existingId).toMatchObject({ type: 'string', format: 'uuid' });
    expect(schemas.ErrorObject.properties.code.enum).toEqual(
      expect.arrayContaining(['IDEMPOTENCY_KEY_REUSED', 'VALIDATION_FAILED', 'INVALID_QUERY_PARAMETER']),
    );
  });

  it('marks an attribute nullable in request documents only where null is accepted', () => {
    const schemas = doc.components.schemas;
    const written = (name: string, kind: 'Create' | 'Update') => schemas[`${name}${kind}Document`].properties.data.properties.attributes.properties;
    expect(written('Flow', 'Update').name.type).toBe('string');
    expect(written('Flow', 'Update').sessionTimeout.type).toBe('integer');
    expect(written('Flow', 'Create').sessionTimeout.type).toBe('integer');
    expect(written('Flow', 'Update').reminderInterval.type).toEqual(['integer', 'null']);
    expect(written('FlowRun', 'Update').status.type).toBe('string');
    expect(written('MessageThread', 'Update').channel.type).toBe('string');
    expect(written('MessageThread', 'Update').candidateId.type).toEqual(['string', 'null']);
  });

  it('lists only the values an input field accepts (a run is patched to a terminal status only)', () => {
    const schemas = doc.components.schemas;
    expect(schemas.FlowRunUpdateDocument.properties.data.properties.attributes.properties.status.enum).toEqual([
      'finished',
      'timeout',
      'cancelled',
      'exception',
    ]);
    expect(schemas.FlowRunAttributes.properties.status.enum).toContain('queued');
  });

  it("describes the server's real responses", async () => {
    const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'openapi.json', components: doc.components });
    const check = (schemaName: string, body: unknown) => {
      const validate = ajv.compile({ $ref: `openapi.json#/components/schemas/${schemaName}` });
      if (!validate(body)) throw new Error(`${schemaName}: ${JSON.stringify(validate.errors, null, 1)}`);
    };
    const flow = await call(app, 'POST', '/public/v2/flows', { key, body: { data: { type: 'flows', attributes: { name: 'Described' } } } });
    const thread = await call(app, 'POST', '/public/v2/message-threads', {
      key,
      body: { data: { type: 'messageThreads', attributes: { channel: 'web', identifier: 'described' } } },
    });
    check('FlowDocument', flow.json);
    check('MessageThreadDocument', thread.json);
    const body = {
      data: { type: 'flowRuns', attributes: { flowId: flow.json.data.id, messageThreadId: thread.json.data.id, state: {}, initialMessage: {} } },
    };
    check('FlowRunCreateDocument', body);
    const run = await call(app, 'POST', '/public/v2/flow-runs?include=flow', { key, body });
    expect(run.status).toBe(201);
    check('FlowRunDocument', run.json);
    const list = await call(app, 'GET', '/public/v2/flow-runs?include=flow,messageThread', { key });
    check('FlowRunListDocument', list.json);
    const error = await call(app, 'GET', '/public/v2/flow-runs?sort=nope', { key });
    expect(error.status).toBe(400);
    check('ErrorDocument', error.json);
    // A conflict naming the thread that exists, and a refused filter value.
    const conflict = await call(app, 'POST', '/public/v2/message-threads', {
      key,
      body: { data: { type: 'messageThreads', attributes: { channel: 'web', identifier: 'described' } } },
    });
    expect(conflict.status).toBe(409);
    expect(conflict.json.errors[0].meta).toEqual({ existingId: thread.json.data.id });
    check('ErrorDocument', conflict.json);
    const badFilter = await call(app, 'GET', '/public/v2/message-threads?filter[identifier]=', { key });
    expect(badFilter.status).toBe(400);
    check('ErrorDocument', badFilter.json);
    check('MessageThreadListDocument', (await call(app, 'GET', '/public/v2/message-threads?filter[channel]=web', { key })).json);
  });
});
