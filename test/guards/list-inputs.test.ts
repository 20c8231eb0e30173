// Arguments a client sizes itself: every list argument and input field has a bound (a
// status filter names each status at most once, an order at most one key per sortable
// field, an endpoint each event type at most once), refused with VALIDATION_FAILED before
// anything runs, whether the list is written into the query or passed in a variable, and
// on the REST surface's filter[status] and sort too. A status filter of 70,000 entries
// used to reach the database (more than its 65,535 bind parameters: INTERNAL_SERVER_ERROR)
// and an order of 20,000 keys was accepted. Paging arguments a connection cannot take
// (first: -1, after with before, ...) are refused with a code too, as are variables of
// the wrong type and GET parameters that are not JSON.
import { getNullableType, isInputObjectType, isListType, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOW_RUN_STATUSES } from '../../src/domain/flow-run-status.ts';
import { WEBHOOK_EVENT_TYPES } from '../../src/domain/webhook-events.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { queryCost } from '../../src/graphql/limits.ts';
import { schema } from '../../src/graphql/schema.ts';
import { maxItemsOf } from '../../src/graphql/types/lists.ts';
import { databaseTargets, openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import { at } from '../support/items.ts';
import { createFixture, graphqlErrorProblems, graphqlRequest, leaksIn, type RawResponse, rest, restErrorProblems, send } from './support.ts';

/** `n` statuses, each status in turn. */
const statuses = (n: number) => Array.from({ length: n }, (_, i) => FLOW_RUN_STATUSES[i % FLOW_RUN_STATUSES.length]);
const SORT_KEYS = ['createdAt', 'updatedAt', 'cost', 'status'];
/** `n` run order keys, each sortable field in turn. */
const orderKeys = (n: number) => Array.from({ length: n }, (_, i) => ({ field: SORT_KEYS[i % SORT_KEYS.length], direction: 'ASC' }));
const inlineOrder = (n: number) => `[${orderKeys(n).map(({ field, direction }) => `{ field: ${field}, direction: ${direction} }`)}]`;

type GraphQLBody = { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };

describe('every list argument and input field of the schema', () => {
  it('declares how many items it takes', () => {
    const lists: string[] = [];
    const unbounded: string[] = [];
    const visit = (where: string, type: Parameters<typeof getNullableType>[0], owner: Parameters<typeof maxItemsOf>[0]) => {
      if (!isListType(getNullableType(type))) return;
      lists.push(where);
      if (maxItemsOf(owner) === undefined) unbounded.push(where);
    };
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) visit(`${type.name}.${field.name}`, field.type, field);
      } else if ('getFields' in type) {
        for (const field of Object.values(type.getFields())) {
          for (const argument of 'args' in field ? field.args : []) visit(`${type.name}.${field.name}(${argument.name})`, argument.type, argument);
        }
      }
    }
    expect(lists).toContain('FlowRunFilter.status');
    expect(lists).toContain('Query.flowRuns(orderBy)');
    expect(lists).toContain('CreateWebhookEndpointInput.events');
    expect(unbounded).toEqual([]);
  });

  it('weighs in the query cost, one per item', () => {
    const cost = (query: string, variables?: Record<string, unknown>) => queryCost(schema, parse(query), variables);
    const base = cost('{ flowRuns { totalCount } }')!;
    expect(cost(`{ flowRuns(orderBy: ${inlineOrder(3)}) { totalCount } }`)).toBe(base + 3);
    expect(cost('query ($o: [FlowRunOrder!]) { flowRuns(orderBy: $o) { totalCount } }', { o: orderKeys(3) })).toBe(base + 3);
    expect(cost('query ($s: [FlowRunStatus!]) { flowRuns(filter: { status: $s }) { totalCount } }', { s: statuses(20_000) })).toBe(base + 20_000);
  });
});

describe.each(databaseTargets())('list inputs and paging arguments on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let cursor: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db)).key;
    await createFixture(app, key);
    const page = await graphqlRequest(app, key, { query: '{ flowRuns(first: 1) { edges { cursor } } }' });
    cursor = at((page.json as { data: { flowRuns: { edges: { cursor: string }[] } } }).data.flowRuns.edges, 0, 'edge').cursor;
  });
  afterAll(() => db?.close());

  /** Answered with one error of `code` (naming `field` when given), before any SQL but the API key lookup. */
  async function refusedBeforeAnySql(body: unknown, code: string, field?: string): Promise<RawResponse> {
    db.statements.length = 0;
    const response = await graphqlRequest(app, key, body);
    const text = response.text.slice(0, 400);
    expect(response.status, text).toBeLessThan(500);
    expect(graphqlErrorProblems(response), text).toEqual([]);
    expect(leaksIn(response.text)).toEqual([]);
    const json = response.json as GraphQLBody;
    expect(json.data ?? null, text).toBeNull();
    expect(
      json.errors?.map((error) => error.extensions?.code),
      text,
    ).toEqual([code]);
    if (field) expect(json.errors?.[0]?.extensions?.field, text).toBe(field);
    expect(db.statements.filter((sql) => !/"ApiKey"/.test(sql))).toEqual([]);
    return response;
  }

  async function served(body: unknown): Promise<GraphQLBody> {
    const response = await graphqlRequest(app, key, body);
    expect(response.status, response.text.slice(0, 400)).toBe(200);
    const json = response.json as GraphQLBody;
    expect(json.errors, response.text.slice(0, 400)).toBeUndefined();
    return json;
  }

  describe('status filters', () => {
    const inVariables = { query: 'query ($s: [FlowRunStatus!]) { flowRuns(filter: { status: $s }) { totalCount } }' };

    it('70,000 statuses in a variable are refused with VALIDATION_FAILED on filter.status, before any SQL', async () => {
      const response = await refusedBeforeAnySql({ ...inVariables, variables: { s: statuses(70_000) } }, 'VALIDATION_FAILED', 'filter.status');
      expect((response.json as GraphQLBody).errors?.[0]?.message).toMatch(`at most ${FLOW_RUN_STATUSES.length}`);
    });

    it('one more than there are statuses is refused, written into the query or in a variable', async () => {
      const over = statuses(FLOW_RUN_STATUSES.length + 1);
      await refusedBeforeAnySql({ query: `{ flowRuns(filter: { status: [${over}] }) { totalCount } }` }, 'VALIDATION_FAILED', 'filter.status');
      await refusedBeforeAnySql({ ...inVariables, variables: { s: over } }, 'VALIDATION_FAILED', 'filter.status');
      // The whole filter in one variable, and a thread's runs: the same bound.
      await refusedBeforeAnySql(
        { query: 'query ($f: FlowRunFilter) { flowRuns(filter: $f) { totalCount } }', variables: { f: { status: over } } },
        'VALIDATION_FAILED',
        'filter.status',
      );
      await refusedBeforeAnySql(
        { query: `{ messageThreads(first: 1) { edges { node { flowRuns(filter: { status: [${over}] }) { totalCount } } } } }` },
        'VALIDATION_FAILED',
        'filter.status',
      );
    });

    it('every status once is served, and a status named twice counts once', async () => {
      const all = await served({ ...inVariables, variables: { s: statuses(FLOW_RUN_STATUSES.length) } });
      expect(all.data).toEqual({ flowRuns: { totalCount: 2 } });
      const twice = await served({ query: '{ flowRuns(filter: { status: [queued, queued, running] }) { totalCount } }' });
      expect(twice.data).toEqual({ flowRuns: { totalCount: 2 } });
    });
  });

  describe('orders', () => {
    const inVariables = { query: 'query ($o: [FlowRunOrder!]) { flowRuns(orderBy: $o) { totalCount } }' };

    it('20,000 keys in a variable are refused with VALIDATION_FAILED on orderBy, before any SQL', async () => {
      await refusedBeforeAnySql({ ...inVariables, variables: { o: orderKeys(20_000) } }, 'VALIDATION_FAILED', 'orderBy');
    });

    it('one key more than the sortable fields is refused, inline, in a variable, and on a nested list', async () => {
      const over = SORT_KEYS.length + 1;
      await refusedBeforeAnySql({ query: `{ flowRuns(orderBy: ${inlineOrder(over)}) { totalCount } }` }, 'VALIDATION_FAILED', 'orderBy');
      await refusedBeforeAnySql({ ...inVariables, variables: { o: orderKeys(over) } }, 'VALIDATION_FAILED', 'orderBy');
      await refusedBeforeAnySql(
        {
          query: 'query ($o: [FlowRunOrder!]) { flows(first: 1) { edges { node { flowRuns(orderBy: $o) { totalCount } } } } }',
          variables: { o: orderKeys(over) },
        },
        'VALIDATION_FAILED',
        'orderBy',
      );
      await refusedBeforeAnySql(
        {
          query:
            '{ flows(orderBy: [{ field: name, direction: ASC }, { field: name, direction: ASC }, { field: name, direction: ASC }, { field: name, direction: ASC }]) { totalCount } }',
        },
        'VALIDATION_FAILED',
        'orderBy',
      );
    });

    it('one key per sortable field is served', async () => {
      await served({ ...inVariables, variables: { o: orderKeys(SORT_KEYS.length) } });
    });
  });

  describe('webhook endpoint events', () => {
    it('more entries than there are event types are refused before anything is checked or written', async () => {
      const query = 'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { webhookEndpoint { id } } }';
      const events = Array.from({ length: 10_000 }, (_, i) => WEBHOOK_EVENT_TYPES[i % WEBHOOK_EVENT_TYPES.length]);
      await refusedBeforeAnySql({ query, variables: { input: { url: 'https://93.184.215.14/hook', events } } }, 'VALIDATION_FAILED', 'events');
      const before = await db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM "WebhookEndpoint"');
      expect(before[0]?.n).toBe(0);
    });
  });

  describe('REST: the same bounds on filter[status] and sort', () => {
    async function refusedParameter(path: string, parameter: string) {
      db.statements.length = 0;
      const response = await rest(app, 'GET', path, key);
      const text = response.text.slice(0, 400);
      expect(response.status, text).toBe(400);
      expect(restErrorProblems(response), text).toEqual([]);
      const errors = (response.json as { errors: { code: string; detail: string; source?: { parameter?: string } }[] }).errors;
      expect(errors, text).toHaveLength(1);
      expect(errors[0]?.code).toBe('INVALID_QUERY_PARAMETER');
      expect(errors[0]?.source).toEqual({ parameter });
      expect(errors[0]?.detail).toMatch(new RegExp(`^${parameter.replace(/[[\]]/g, '\\$&')}: `));
      expect(db.statements.filter((sql) => !/"ApiKey"/.test(sql))).toEqual([]);
    }

    it('filter[status] with 5,000 values is a 400 naming the parameter', async () => {
      await refusedParameter(`/public/v2/flow-runs?filter[status]=${statuses(5_000).join(',')}`, 'filter[status]');
      await refusedParameter(`/public/v2/flow-runs?filter[status]=${statuses(FLOW_RUN_STATUSES.length + 1).join(',')}`, 'filter[status]');
    });

    it('sort with 2,000 keys is a 400 naming the parameter', async () => {
      const keys = (n: number) => Array.from({ length: n }, (_, i) => `${i % 2 ? '-' : ''}${SORT_KEYS[i % SORT_KEYS.length]}`).join(',');
      await refusedParameter(`/public/v2/flow-runs?sort=${keys(2_000)}`, 'sort');
      await refusedParameter(`/public/v2/flow-runs?sort=${keys(SORT_KEYS.length + 1)}`, 'sort');
      const served = await rest(app, 'GET', `/public/v2/flow-runs?sort=${keys(SORT_KEYS.length)}&filter[status]=${statuses(6).join(',')}`, key);
      expect(served.status, served.text.slice(0, 300)).toBe(200);
    });
  });

  describe('paging arguments a connection cannot take', () => {
    const cases: [string, () => unknown, string, string][] = [
      ['first: -1', () => ({ query: '{ flowRuns(first: -1) { totalCount } }' }), 'VALIDATION_FAILED', 'first'],
      ['last: -5', () => ({ query: '{ flowRuns(last: -5) { totalCount } }' }), 'VALIDATION_FAILED', 'last'],
      [
        'first: -1 in a variable',
        () => ({ query: 'query ($n: Int) { flowRuns(first: $n) { totalCount } }', variables: { n: -1 } }),
        'VALIDATION_FAILED',
        'first',
      ],
      [
        'a nested first: -3',
        () => ({ query: '{ flows(first: 1) { edges { node { flowRuns(first: -3) { totalCount } } } } }' }),
        'VALIDATION_FAILED',
        'first',
      ],
      [
        'after with before',
        () => ({ query: `{ flowRuns(after: "${cursor}", before: "${cursor}") { totalCount } }` }),
        'PAGING_ARGUMENTS_CONFLICT',
        'before',
      ],
      ['before with first', () => ({ query: `{ flowRuns(before: "${cursor}", first: 1) { totalCount } }` }), 'PAGING_ARGUMENTS_CONFLICT', 'before'],
      ['after with last', () => ({ query: `{ flowRuns(after: "${cursor}", last: 1) { totalCount } }` }), 'PAGING_ARGUMENTS_CONFLICT', 'last'],
      ['offset with after', () => ({ query: `{ flowRuns(after: "${cursor}", offset: 1) { totalCount } }` }), 'PAGING_ARGUMENTS_CONFLICT', 'offset'],
      ['offset: -1', () => ({ query: '{ flowRuns(offset: -1) { totalCount } }' }), 'VALIDATION_FAILED', 'offset'],
    ];

    it.each(cases)('%s is refused with a code, before any SQL', async (_label, body, code, field) => {
      await refusedBeforeAnySql(body(), code, field);
    });

    it('first: 0, and last with before, are served', async () => {
      await served({ query: '{ flowRuns(first: 0) { totalCount } }' });
      await served({ query: `{ flowRuns(last: 1, before: "${cursor}") { totalCount } }` });
    });
  });

  describe('GET parameters that are not JSON', () => {
    it.each(['variables=%7B', 'extensions=x'])('%s is a 400 BAD_REQUEST, not a server fault', async (parameter) => {
      const response = await send(app, {
        method: 'GET',
        path: `/graphql?query=%7B__typename%7D&${parameter}`,
        headers: { accept: 'application/json', authorization: key },
      });
      expect(response.status, response.text).toBe(400);
      expect(graphqlErrorProblems(response)).toEqual([]);
      expect((response.json as GraphQLBody).errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
    });
  });

  describe('variables of the wrong type', () => {
    it.each([
      ['a UUID', 'query ($id: UUID!) { flowRun(id: $id) { id } }', { id: 'abc' }],
      ['an Int', 'query ($n: Int) { flowRuns(first: $n) { totalCount } }', { n: '10' }],
      ['an enum in a list', 'query ($s: [FlowRunStatus!]) { flowRuns(filter: { status: $s }) { totalCount } }', { s: ['bogus'] }],
      ['a required variable left out', 'query ($id: UUID!) { flowRun(id: $id) { id } }', {}],
    ])('%s is refused with VALIDATION_FAILED', async (_label, query, variables) => {
      const response = await graphqlRequest(app, key, { query, variables });
      expect(response.status).toBeLessThan(500);
      expect(graphqlErrorProblems(response), response.text.slice(0, 300)).toEqual([]);
      expect((response.json as GraphQLBody).errors?.map((error) => error.extensions?.code)).toEqual(['VALIDATION_FAILED']);
    });
  });
});
