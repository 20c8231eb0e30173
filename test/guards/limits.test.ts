// The limits a request meets: body size (413, whether or not it declares its length),
// page sizes (REST page[size] ≤ 100, GraphQL first capped at 100), GraphQL depth, alias
// and cost limits checked before anything executes, the batch limit, and the deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '../../src/database/generated/prisma/client.ts';
import type { RowReader } from '../../src/database/row-reader.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { getNamedType, type GraphQLObjectType, isLeafType, parse } from 'graphql';
import { QUERY_LIMITS, queryCost } from '../../src/graphql/limits.ts';
import { schema } from '../../src/graphql/schema.ts';
import { operationDocument } from '../../src/rest/operations.ts';
import { MAX_PAGE_SIZE } from '../../src/rest/query-params.ts';
import { RESOURCES } from '../../src/rest/routes.ts';
import { databaseTargets, openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import { only } from '../support/items.ts';
import { graphqlErrorProblems, graphqlRequest, JSON_API, leaksIn, rest, restErrorProblems, send } from './support.ts';

const ONE_MB = 1024 * 1024;

/** A body of exactly `bytes` bytes: a JSON:API document padded inside a string. */
function documentOfSize(bytes: number, type = 'flows'): string {
  const head = `{"data":{"type":"${type}","attributes":{"name":"`;
  const tail = '"}}}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

function graphqlBodyOfSize(bytes: number): string {
  const head = '{"query":"{ __typename }","variables":{"pad":"';
  const tail = '"}}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

/** The same bytes as a stream: no Content-Length, read as it comes. */
function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 64 * 1024));
      offset += 64 * 1024;
    },
  });
}

async function streamed(app: App, path: string, contentType: string, key: string, text: string) {
  const request = new Request(`http://test${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: key },
    body: streamOf(text),
    duplex: 'half',
  } as RequestInit);
  expect(request.headers.get('content-length')).toBeNull();
  const response = await app.fetch(request);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const nestedSelection = (depth: number) => {
  // flowRuns(1) > edges(2) > node(3) > messageThread(4) > flowRuns(5) > edges(6) > node(7) > ...: 4 levels more each time
  let selection = 'id';
  for (let level = 0; level < depth; level++) {
    selection =
      level % 2 ? `flow { flowRuns { edges { node { ${selection} } } } }` : `messageThread { flowRuns { edges { node { ${selection} } } } }`;
  }
  return `{ flowRuns { edges { node { ${selection} } } } }`;
};

describe.each(databaseTargets())('limits on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let flowCount: number;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    const tenant = await createTestTenant(db);
    key = tenant.key;
    // More flows than any page may hold.
    await db.sql.query(
      `INSERT INTO "Flow" (id, "organizationId", name, "updatedAt")
       SELECT gen_random_uuid(), $1, 'flow ' || n, now() FROM generate_series(1, 105) AS n`,
      [tenant.organizationId],
    );
    flowCount = 105;
  });
  afterAll(() => db?.close());

  const flowsInTable = async () => Number(only(await db.sql.query<{ n: string }>('SELECT count(*) AS n FROM "Flow"')).n);

  describe('request body size', () => {
    it('REST: exactly 1 MB is read; 1 MB + 1 byte is 413 with or without Content-Length, and nothing is written', async () => {
      const atLimit = await send(app, {
        method: 'POST',
        path: '/public/v2/flows',
        headers: { 'Content-Type': JSON_API, Authorization: key },
        body: documentOfSize(ONE_MB),
      });
      // Read and judged on its merits: a name over 200 characters.
      expect(atLimit.status).toBe(400);

      const over = documentOfSize(ONE_MB + 1);
      expect(Buffer.byteLength(over)).toBe(ONE_MB + 1);
      const declared = await send(app, {
        method: 'POST',
        path: '/public/v2/flows',
        headers: { 'Content-Type': JSON_API, Authorization: key, 'Content-Length': String(ONE_MB + 1) },
        body: over,
      });
      const undeclared = await streamed(app, '/public/v2/flows', JSON_API, key, over);
      for (const response of [declared, undeclared]) {
        expect(response.status).toBe(413);
        expect(response.headers.get('content-type')).toBe(JSON_API);
        const json = JSON.parse(response.text);
        expect(restErrorProblems({ ...response, json })).toEqual([]);
        expect(json.errors[0]).toMatchObject({ status: '413', code: 'PAYLOAD_TOO_LARGE' });
      }
      expect(await flowsInTable()).toBe(flowCount);
    });

    it('GraphQL: over 1 MB is 413 with or without Content-Length; 1 MB is served', async () => {
      const within = await send(app, {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: key },
        body: graphqlBodyOfSize(ONE_MB),
      });
      expect(within.status).toBe(200);
      expect(within.json).toEqual({ data: { __typename: 'Query' } });

      const over = graphqlBodyOfSize(ONE_MB + 1);
      const declared = await send(app, {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: key, 'content-length': String(ONE_MB + 1) },
        body: over,
      });
      const undeclared = await streamed(app, '/graphql', 'application/json', key, over);
      for (const response of [declared, undeclared]) {
        expect(response.status).toBe(413);
        const json = JSON.parse(response.text);
        expect(graphqlErrorProblems({ ...response, json })).toEqual([]);
        expect(json.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
      }
    });
  });

  describe('page sizes', () => {
    it('REST: page[size]=101 is 400 naming the parameter; 100 is the largest page', async () => {
      const tooBig = await rest(app, 'GET', '/public/v2/flows?page[size]=101', key);
      expect(tooBig.status).toBe(400);
      expect(tooBig.json).toMatchObject({ errors: [{ status: '400', source: { parameter: 'page[size]' } }] });
      const largest = await rest(app, 'GET', '/public/v2/flows?page[size]=100', key);
      expect(largest.status).toBe(200);
      expect((largest.json as { data: unknown[] }).data).toHaveLength(100);
    });

    it('GraphQL: first: 1000 returns at most 100 of the 105', async () => {
      const result = await graphqlRequest(app, key, {
        query: 'query Page($first: Int) { flows(first: $first) { totalCount edges { node { id } } } }',
        variables: { first: 1000 },
      });
      expect(result.status).toBe(200);
      const flows = (result.json as { data: { flows: { totalCount: number; edges: unknown[] } } }).data.flows;
      expect(flows.totalCount).toBe(flowCount);
      expect(flows.edges).toHaveLength(100);
    });

    it('GraphQL: first: 1000 written into the query is capped at 100 too, and weighed as the 100 it returns', async () => {
      const result = await graphqlRequest(app, key, { query: '{ flows(first: 1000) { totalCount edges { node { id } } } }' });
      expect(result.status).toBe(200);
      const flows = (result.json as { data: { flows: { totalCount: number; edges: unknown[] } } }).data.flows;
      expect(flows.edges).toHaveLength(100);
    });
  });

  describe('GraphQL query limits, checked before execution', () => {
    /** The statements a request sent, except the API key lookup of authentication. */
    async function statementsBeyondAuthentication(body: unknown) {
      db.statements.length = 0;
      const response = await graphqlRequest(app, key, body);
      const beyond = db.statements.filter((sql) => !/"ApiKey"/.test(sql));
      return { response, beyond, all: db.statements.length };
    }

    const cases: [string, string, RegExp][] = [
      [`deeper than ${QUERY_LIMITS.maxDepth}`, nestedSelection(2), /depth limit/i],
      [
        `${QUERY_LIMITS.maxAliases + 1} aliases`,
        `{ ${Array.from({ length: QUERY_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: flows(first: 1) { totalCount }`).join(' ')} }`,
        /aliases limit/i,
      ],
      [
        `costlier than ${QUERY_LIMITS.maxCost}`,
        `{ ${Array.from({ length: 10 }, (_, i) => `r${i}: flowRuns(first: 100) { edges { node { id status flow { id name flowRuns(first: 100) { totalCount } } messageThread { id } } } }`).join(' ')} }`,
        /cost limit/i,
      ],
      [`more than ${QUERY_LIMITS.maxTokens} tokens`, `{ flows { totalCount ${'totalCount '.repeat(QUERY_LIMITS.maxTokens)}} }`, /token limit/i],
    ];

    it.each(cases)('a query %s is refused with an error and no SQL', async (_label, query, message) => {
      const { response, beyond, all } = await statementsBeyondAuthentication({ query });
      expect(response.status).toBeLessThan(500);
      expect(graphqlErrorProblems(response)).toEqual([]);
      const body = response.json as { data?: unknown; errors: { message: string; extensions?: { code?: string } }[] };
      expect(body.data ?? null).toBeNull();
      expect(body.errors.map((error) => error.message).join(' ')).toMatch(message);
      expect(body.errors.map((error) => error.extensions?.code)).toContain(
        /cost/.test(message.source) ? 'COST_LIMIT_EXCEEDED' : 'QUERY_LIMIT_EXCEEDED',
      );
      expect(leaksIn(response.text)).toEqual([]);
      expect(beyond).toEqual([]);
      expect(all).toBeLessThanOrEqual(1);
    });

    it('the same query within the limits runs (the limits are what refused them)', async () => {
      const { response, beyond } = await statementsBeyondAuthentication({ query: nestedSelection(1) });
      expect(response.status).toBe(200);
      expect((response.json as { errors?: unknown }).errors).toBeUndefined();
      expect(beyond.length).toBeGreaterThan(0);
    });
  });

  describe('GraphQL query cost: a page size weighs the same written inline or passed in a variable', () => {
    const scalarsOf = (typeName: string) =>
      Object.values((schema.getType(typeName) as GraphQLObjectType).getFields())
        .filter((field) => isLeafType(getNamedType(field.type)))
        .map((field) => field.name)
        .join(' ');
    const pageInfo = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
    /** The largest page of each list: every scalar, and a run's flow and thread with all of theirs. */
    const largestPages = (size: string) => ({
      flowRuns: `flowRuns(first: ${size}) { totalCount totalUnfilteredCount ${pageInfo} edges { cursor node {
        ${scalarsOf('FlowRun')} flow { ${scalarsOf('Flow')} } messageThread { ${scalarsOf('MessageThread')} } } } }`,
      lastFlowRuns: `flowRuns(last: ${size}) { totalCount edges { cursor node {
        ${scalarsOf('FlowRun')} flow { ${scalarsOf('Flow')} } messageThread { ${scalarsOf('MessageThread')} } } } }`,
      flows: `flows(first: ${size}) { totalCount ${pageInfo} edges { cursor node { ${scalarsOf('Flow')} } } }`,
      messageThreads: `messageThreads(first: ${size}) { totalCount ${pageInfo} edges { cursor node { ${scalarsOf('MessageThread')} } } }`,
      // The query of the report: inline it was refused, with a variable it passed.
      reported: `flowRuns(first: ${size}) { edges { node { id status flow { name } messageThread { channel identifier } } } }`,
    });
    const PAGES = Object.keys(largestPages('100')) as (keyof ReturnType<typeof largestPages>)[];

    /** The same selection three ways: the size inline, in a variable, and as the variable's default. */
    const threeWays = (selection: (size: string) => string, size: number) => [
      { query: `{ ${selection(String(size))} }` },
      { query: `query ($size: Int) { ${selection('$size')} }`, variables: { size } },
      { query: `query ($size: Int = ${size}) { ${selection('$size')} }` },
    ];

    it('the costs docs/OPERATIONS.md gives (Limits)', () => {
      const cost = (selection: string) => queryCost(schema, parse(`{ ${selection} }`));
      expect(cost(largestPages('100').flowRuns)).toBe(3_008);
      expect(cost('flows(first: 100) { edges { node { id flowRuns(first: 100) { edges { node { id status } } } } } }')).toBe(40_401);
    });

    it.each(PAGES)('the largest %s page the API allows (100) is served, however its size is given', async (page) => {
      for (const body of threeWays((size) => largestPages(size)[page], 100)) {
        const response = await graphqlRequest(app, key, body);
        expect(response.status, response.text.slice(0, 300)).toBe(200);
        expect((response.json as { errors?: unknown }).errors, response.text.slice(0, 300)).toBeUndefined();
      }
    });

    /** Refused with the cost error, before any SQL but the API key lookup. */
    async function refusedBeforeAnySql(body: unknown) {
      db.statements.length = 0;
      const response = await graphqlRequest(app, key, body);
      expect(response.status, response.text.slice(0, 300)).toBe(400);
      expect(graphqlErrorProblems(response)).toEqual([]);
      const json = response.json as { data?: unknown; errors: { message: string; extensions?: { code?: string } }[] };
      expect(json.data ?? null).toBeNull();
      expect(json.errors).toHaveLength(1);
      expect(json.errors[0]?.message).toMatch(new RegExp(`cost limit of ${QUERY_LIMITS.maxCost}`, 'i'));
      expect(json.errors[0]?.extensions?.code).toBe('COST_LIMIT_EXCEEDED');
      expect(leaksIn(response.text)).toEqual([]);
      expect(db.statements.filter((sql) => !/"ApiKey"/.test(sql))).toEqual([]);
    }

    it('a page of flows with a page of runs each is refused, however the sizes are given', async () => {
      const nested = (size: string) => `flows(first: ${size}) { edges { node { id flowRuns(first: ${size}) { edges { node { id status } } } } } }`;
      for (const body of threeWays(nested, 100)) await refusedBeforeAnySql(body);
      // Spread from a fragment, the inner page weighs the same.
      await refusedBeforeAnySql({
        query: `query ($size: Int) { flows(first: $size) { edges { node { ...runs } } } }
                fragment runs on Flow { flowRuns(first: $size) { edges { node { id status } } } }`,
        variables: { size: 100 },
      });
    });

    it('several largest pages in one operation are refused, however the sizes are given', async () => {
      const aliased = (size: string) => Array.from({ length: 3 }, (_, i) => `p${i}: ${largestPages(size).flowRuns}`).join(' ');
      for (const body of threeWays(aliased, 100)) await refusedBeforeAnySql(body);
    });

    it("the adapter's JSON:API lists fit within the limit at their largest page with every include", () => {
      // The adapter runs its operations without these plugins; were they weighed, none
      // would be refused.
      for (const resource of RESOURCES) {
        const include = resource.relationships.filter((relationship) => relationship.include).map((relationship) => relationship.name);
        const cost = queryCost(schema, operationDocument(resource, 'list', include), { first: MAX_PAGE_SIZE, offset: 0 });
        expect(cost, resource.type).toBeGreaterThan(MAX_PAGE_SIZE);
        expect(cost, resource.type).toBeLessThanOrEqual(QUERY_LIMITS.maxCost);
      }
    });
  });

  describe('batches', () => {
    const operation = { query: '{ flows(first: 1) { totalCount } }' };

    it('10 operations in one request are answered one by one', async () => {
      const response = await graphqlRequest(
        app,
        key,
        Array.from({ length: 10 }, () => operation),
      );
      expect(response.status).toBe(200);
      const results = response.json as { data: { flows: { totalCount: number } } }[];
      expect(results).toHaveLength(10);
      for (const result of results) expect(result.data.flows.totalCount).toBe(flowCount);
    });

    it('11 are refused as a whole, before any of them runs', async () => {
      db.statements.length = 0;
      const response = await graphqlRequest(
        app,
        key,
        Array.from({ length: 11 }, () => operation),
      );
      expect(response.status).toBe(413);
      expect(graphqlErrorProblems(response)).toEqual([]);
      expect((response.json as { errors: { message: string }[] }).errors[0]?.message).toMatch(/limited to 10/);
      expect(db.statements).toEqual([]);
    });

    // The largest page of runs with their flows and threads costs 1,101 (11 × 100 + 1):
    // four of them fit within the limit, five do not, whether in one operation or five.
    const largePage = (size: string) =>
      `flowRuns(first: ${size}) { edges { node { id status cost flow { id name } messageThread { id channel } } } }`;

    it('the cost limit is for the whole batch: operations each within it but over it together are refused before any runs', async () => {
      expect(queryCost(schema, parse(`{ ${largePage('100')} }`))).toBe(1_101);
      const inline = Array.from({ length: 5 }, () => ({ query: `{ ${largePage('100')} }` }));
      const inVariables = Array.from({ length: 5 }, () => ({ query: `query ($n: Int) { ${largePage('$n')} }`, variables: { n: 100 } }));
      for (const batch of [inline, inVariables, Array.from({ length: 10 }, () => inline[0])]) {
        db.statements.length = 0;
        const response = await graphqlRequest(app, key, batch);
        expect(response.status, response.text.slice(0, 300)).toBe(400);
        expect(graphqlErrorProblems(response)).toEqual([]);
        const errors = (response.json as { errors: { message: string; extensions?: { code?: string } }[] }).errors;
        expect(errors.map((error) => error.extensions?.code)).toEqual(['COST_LIMIT_EXCEEDED']);
        expect(errors[0]?.message).toMatch(new RegExp(`batch of ${batch.length} operations costs ${batch.length * 1_101}`));
        expect(db.statements).toEqual([]);
      }
    });

    it('a batch within the limit in all is answered one by one', async () => {
      const batch = Array.from({ length: 4 }, () => ({ query: `query ($n: Int) { ${largePage('$n')} }`, variables: { n: 100 } }));
      const response = await graphqlRequest(app, key, batch);
      expect(response.status, response.text.slice(0, 300)).toBe(200);
      const results = response.json as { data?: unknown; errors?: unknown }[];
      expect(results).toHaveLength(4);
      for (const result of results) expect(result.errors).toBeUndefined();
    });

    it('an empty batch is a 400, not an empty answer', async () => {
      const response = await graphqlRequest(app, key, []);
      expect(response.status).toBe(400);
      expect(graphqlErrorProblems(response)).toEqual([]);
    });
  });

  describe('request deadline', () => {
    it('a request not answered within requestTimeoutMs gets 503 REQUEST_TIMEOUT on both surfaces', async () => {
      // Every database call of this app waits 400 ms first: far past its 50 ms deadline.
      const slowPrisma = db.prisma.$extends({
        query: {
          async $allOperations({ args, query }) {
            await new Promise((resolve) => setTimeout(resolve, 400));
            return query(args);
          },
        },
      }) as unknown as PrismaClient;
      // The statements sent without Prisma wait as long.
      const slowReader: RowReader = async (text, values) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return db.reader(text, values);
      };
      const slowDb = { ...db, prisma: slowPrisma, reader: slowReader };
      const slow = createApp({ db: slowDb, requestTimeoutMs: 50 });

      const started = performance.now();
      const [restResponse, graphqlResponse] = await Promise.all([
        rest(slow, 'GET', '/public/v2/flows', key),
        graphqlRequest(slow, key, { query: '{ flows(first: 1) { totalCount } }' }),
      ]);
      const elapsed = performance.now() - started;

      expect(restResponse.status).toBe(503);
      expect(restErrorProblems(restResponse)).toEqual([]);
      expect(restResponse.json).toMatchObject({ errors: [{ status: '503', code: 'REQUEST_TIMEOUT' }] });
      expect(graphqlResponse.status).toBe(503);
      expect(graphqlErrorProblems(graphqlResponse)).toEqual([]);
      expect(graphqlResponse.json).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_TIMEOUT' } }] });
      // Answered at the deadline, not when the work ended (bound, not a precise timing).
      expect(elapsed).toBeLessThan(350);
      // The abandoned work finishes on its own; let it, before the database closes.
      await new Promise((resolve) => setTimeout(resolve, 1_000));

      // The same app with a generous deadline answers normally.
      const patient = createApp({ db: slowDb, requestTimeoutMs: 5_000 });
      expect((await rest(patient, 'GET', '/public/v2/flows?page[size]=1', key)).status).toBe(200);
    });
  });
});
