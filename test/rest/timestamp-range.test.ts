// Date-times PostgreSQL cannot take (year 0000, or past 9999 once an offset is applied)
// are the client's mistake: every DateTime input, on both surfaces and both databases,
// answers 400 naming the field and writes nothing; the bounds themselves are stored and
// read back as given. A value that still reaches the database and is refused there
// (SQLSTATE class 22, data exception) is a VALIDATION_FAILED too, never a 500.
import { getNamedType, isInputObjectType, isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asDomainError } from '../../src/domain/database-errors.ts';
import { createFlow } from '../../src/domain/flows.ts';
import { schema } from '../../src/graphql/schema.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { call } from './support.ts';

/** Each names, in UTC, an instant outside years 0001 to 9999. */
const UNSTORABLE = ['0000-01-01T00:00:00Z', '0000-12-31T23:59:59Z', '0001-01-01T00:30:00+01:00', '9999-12-31T23:00:00-02:00'];
const BOUNDS = [
  ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00+00:00'],
  ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59+00:00'],
];

// The DateTime inputs tested below: a new one fails this until it is held to the range too.
it('the schema takes DateTime in these inputs only', () => {
  const isDateTime = (type: Parameters<typeof getNamedType>[0]) => getNamedType(type)?.name === 'DateTime';
  const inputs: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (isDateTime(field.type)) inputs.push(`${type.name}.${field.name}`);
    }
    if (isObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        for (const arg of field.args) if (isDateTime(arg.type)) inputs.push(`${type.name}.${field.name}(${arg.name})`);
      }
    }
  }
  expect(inputs.sort()).toEqual(['CreateFlowInput.publishedAt', 'FlowRunFilter.updatedSince', 'UpdateFlowInput.publishedAt']);
});

describe.each(databaseTargets())('date-times the database cannot store on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let flowId: string;
  const flowCount = () => db.prisma.flow.count({ where: { organizationId: org.organizationId } });
  const storedPublishedAt = async () => (await db.prisma.flow.findUniqueOrThrow({ where: { id: flowId } })).publishedAt;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    org = await createTestTenant(db);
    flowId = (await createFlow(org.tenant, { name: 'Published', publishedAt: new Date('2024-08-20T10:45:05Z') })).id;
  });
  afterAll(() => db?.close());

  describe('REST', () => {
    it.each(UNSTORABLE)('filter[updatedSince]=%s: 400 naming the parameter', async (value) => {
      const response = await call(app, 'GET', `/public/v2/flow-runs?filter[updatedSince]=${encodeURIComponent(value)}`, { key: org.key });
      expect(response.status, response.text).toBe(400);
      expect(response.json.errors).toEqual([
        expect.objectContaining({
          code: 'INVALID_QUERY_PARAMETER',
          source: { parameter: 'filter[updatedSince]' },
          detail: expect.stringMatching(/^filter\[updatedSince\]: .*0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/),
        }),
      ]);
    });

    it.each(UNSTORABLE)('publishedAt %s on POST and PATCH: 400 VALIDATION_FAILED at the attribute, nothing written', async (value) => {
      const before = await flowCount();
      const created = await call(app, 'POST', '/public/v2/flows', {
        key: org.key,
        body: { data: { type: 'flows', attributes: { name: 'Too early', publishedAt: value } } },
      });
      expect(created.status, created.text).toBe(400);
      expect(created.json.errors).toEqual([
        expect.objectContaining({
          code: 'VALIDATION_FAILED',
          source: { pointer: '/data/attributes/publishedAt' },
          detail: expect.stringMatching(/^publishedAt: .*0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/),
        }),
      ]);
      expect(await flowCount()).toBe(before);

      const patched = await call(app, 'PATCH', `/public/v2/flows/${flowId}`, {
        key: org.key,
        body: { data: { type: 'flows', id: flowId, attributes: { publishedAt: value } } },
      });
      expect(patched.status, patched.text).toBe(400);
      expect(patched.json.errors).toEqual([
        expect.objectContaining({ code: 'VALIDATION_FAILED', source: { pointer: '/data/attributes/publishedAt' } }),
      ]);
      expect(await storedPublishedAt()).toEqual(new Date('2024-08-20T10:45:05Z'));
    });

    it.each(BOUNDS)('stores publishedAt %s and reads it back, and filters by it', async (value, rendered) => {
      const created = await call(app, 'POST', '/public/v2/flows', {
        key: org.key,
        body: { data: { type: 'flows', attributes: { name: `Bound ${value}`, publishedAt: value } } },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.json.data.attributes.publishedAt).toBe(rendered);
      const read = await call(app, 'GET', `/public/v2/flows/${created.json.data.id}`, { key: org.key });
      expect(read.json.data.attributes.publishedAt).toBe(rendered);
      const listed = await call(app, 'GET', `/public/v2/flow-runs?filter[updatedSince]=${encodeURIComponent(value)}`, { key: org.key });
      expect(listed.status, listed.text).toBe(200);
    });
  });

  describe('GraphQL', () => {
    type Errors = Awaited<ReturnType<typeof sendGraphQL>>['errors'];
    // The HTTP status is the one GraphQL answers any refused operation with (200 for application/json); the code says what happened.
    const expectRefused = (errors: Errors, field: string) => {
      expect(errors, JSON.stringify(errors)).toHaveLength(1);
      expect(errors?.[0]?.extensions?.code, JSON.stringify(errors)).toBe('VALIDATION_FAILED');
      expect(errors?.[0]?.message).toContain(field);
      expect(errors?.[0]?.message).toMatch(/0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z/);
    };

    it.each(UNSTORABLE)('flowRuns(filter: {updatedSince: %s}): inline, in a filter variable and in a DateTime variable', async (value) => {
      const inline = await sendGraphQL(app, org.key, `{ flowRuns(filter: { updatedSince: ${JSON.stringify(value)} }) { totalCount } }`);
      expectRefused(inline.errors, 'updatedSince');
      const asFilter = await sendGraphQL(app, org.key, 'query ($filter: FlowRunFilter) { flowRuns(filter: $filter) { totalCount } }', {
        filter: { updatedSince: value },
      });
      expectRefused(asFilter.errors, 'updatedSince');
      const asDateTime = await sendGraphQL(app, org.key, 'query ($since: DateTime) { flowRuns(filter: { updatedSince: $since }) { totalCount } }', {
        since: value,
      });
      expectRefused(asDateTime.errors, 'updatedSince');
    });

    it.each(UNSTORABLE)('createFlow and updateFlow with publishedAt %s, inline and in variables: nothing written', async (value) => {
      const before = await flowCount();
      const inline = await sendGraphQL(
        app,
        org.key,
        `mutation { createFlow(input: { name: "Too early", publishedAt: ${JSON.stringify(value)} }) { flow { id } } }`,
      );
      expectRefused(inline.errors, 'publishedAt');
      const variables = await sendGraphQL(app, org.key, 'mutation ($input: CreateFlowInput!) { createFlow(input: $input) { flow { id } } }', {
        input: { name: 'Too early', publishedAt: value },
      });
      expectRefused(variables.errors, 'publishedAt');
      expect(await flowCount()).toBe(before);

      const update = await sendGraphQL(
        app,
        org.key,
        `mutation { updateFlow(id: "${flowId}", input: { publishedAt: ${JSON.stringify(value)} }) { flow { id } } }`,
      );
      expectRefused(update.errors, 'publishedAt');
      const updateVariables = await sendGraphQL(
        app,
        org.key,
        'mutation ($id: UUID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { flow { id } } }',
        {
          id: flowId,
          input: { publishedAt: value },
        },
      );
      expectRefused(updateVariables.errors, 'publishedAt');
      expect(await storedPublishedAt()).toEqual(new Date('2024-08-20T10:45:05Z'));
    });

    it.each(BOUNDS)('createFlow stores publishedAt %s', async (value) => {
      const created = await sendGraphQL<{ createFlow: { flow: { publishedAt: string } } }, unknown>(
        app,
        org.key,
        'mutation ($input: CreateFlowInput!) { createFlow(input: $input) { flow { publishedAt } } }',
        { input: { name: `GraphQL bound ${value}`, publishedAt: value } },
      );
      expect(created.errors).toBeUndefined();
      expect(new Date(created.data!.createFlow.flow.publishedAt)).toEqual(new Date(value));
    });
  });

  describe('the database', () => {
    it.each([
      ["SELECT '0000-01-01T00:00:00Z'::timestamptz", 'a date-time out of range (22008)'],
      ["SELECT 'yesterday-ish'::timestamptz", 'a malformed date-time (22007)'],
      ['SELECT 2147483647::int + 1', 'an integer overflow (22003)'],
      ["SELECT '{'::jsonb", 'malformed JSON (22P02)'],
    ])('refusing a value (%s: %s), through Prisma or the driver, is a VALIDATION_FAILED, not a 500', async (sql, what) => {
      const failed = (query: Promise<unknown>) =>
        query.then(
          () => undefined,
          (error: unknown) => error,
        );
      for (const failure of [await failed(db.prisma.$queryRawUnsafe(sql)), await failed(db.sql.query(sql))]) {
        expect(failure, what).toBeDefined();
        expect(asDomainError(failure), what).toMatchObject({ code: 'VALIDATION_FAILED' });
      }
    });
  });
});
