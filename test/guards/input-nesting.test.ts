// How deep `state` and `initialMessage` may nest. Everything that handles them after
// validation recurses once per level (idempotency hashing, Prisma's argument cloning,
// JSON.stringify), so a value thousands of levels deep used to overflow the call stack
// there and answer 500. Now anything deeper than MAX_JSON_NESTING is a 400
// VALIDATION_FAILED naming the member, on every way in, and nothing is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { MAX_JSON_NESTING } from '../../src/domain/flow-run-input.ts';
import { databaseTargets, openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import {
  createFixture,
  type Fixture,
  graphqlErrorProblems,
  graphqlRequest,
  JSON_API,
  leaksIn,
  type RawResponse,
  restErrorProblems,
  rowCounts,
  send,
  snapshotTables,
} from './support.ts';

/** JSON text of an object `levels` levels deep: {} is 1, {"a":{}} is 2. */
const nestedText = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
/** The same as a GraphQL input literal. */
const nestedLiteral = (levels: number) => '{a:'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
/** A template message (valid on every channel) that is `levels` levels deep in all. */
const deepMessageText = (levels: number) =>
  `{"type":"template","template":{"id":"6f1c0d3e-8d8f-4b8a-9a52-1d1f2f3a4b5c","components":[]},"extra":${nestedText(levels - 1)}}`;

const OVER = [MAX_JSON_NESTING + 1, 10_000, 100_000];

describe.each(databaseTargets())('nesting of state and initialMessage on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let fixture: Fixture;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db)).key;
    fixture = await createFixture(app, key, 'nesting');
  });
  afterAll(() => db?.close());

  // Bodies are written as text: JSON.stringify itself overflows on the deepest values.
  const restWrite = (method: 'POST' | 'PATCH', path: string, body: string, headers: Record<string, string> = {}) =>
    send(app, { method, path, headers: { Authorization: key, 'Content-Type': JSON_API, ...headers }, body });

  const triggerBody = (member: 'state' | 'initialMessage', valueText: string) =>
    `{"data":{"type":"flowRuns","attributes":{"flowId":"${fixture.flowId}","messageThreadId":"${fixture.webThreadId}",` +
    (member === 'state' ? `"initialMessage":{},"state":${valueText}` : `"state":{},"initialMessage":${valueText}`) +
    '}}}';

  const patchBody = (valueText: string) => `{"data":{"type":"flowRuns","id":"${fixture.queuedRunId}","attributes":{"state":${valueText}}}}`;

  /** The GraphQL request with `__VALUE__` replaced by JSON text (a variable's value). */
  const graphqlWithVariable = (query: string, variables: Record<string, unknown>, valueText: string) =>
    send(app, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: key },
      body: JSON.stringify({ query, variables }).replace('"__VALUE__"', valueText),
    });

  const TRIGGER = 'mutation ($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { flowRun { id } replayed } }';
  const PATCH = 'mutation ($id: UUID!, $input: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $input) { flowRun { id } } }';

  function expectRestRefusal(response: RawResponse, member: string) {
    expect(response.status, response.text.slice(0, 300)).toBe(400);
    expect(restErrorProblems(response)).toEqual([]);
    expect(response.json).toEqual({
      errors: [
        expect.objectContaining({
          code: 'VALIDATION_FAILED',
          detail: expect.stringMatching(new RegExp(`^${member}: .*${MAX_JSON_NESTING} levels`)),
          source: { pointer: `/data/attributes/${member}` },
        }),
      ],
    });
    expect(leaksIn(response.text)).toEqual([]);
  }

  // As every VALIDATION_FAILED: the code and the offending input field in `extensions`.
  function expectGraphQLRefusal(response: RawResponse, member: string) {
    expect(response.status, response.text.slice(0, 300)).toBeLessThan(500);
    expect(graphqlErrorProblems(response)).toEqual([]);
    // The mutation's field is null (a failed mutation nulls its own field), or there is no data at all.
    const data = (response.json as { data?: Record<string, unknown> | null }).data;
    expect(Object.values(data ?? {})).toEqual(Object.keys(data ?? {}).map(() => null));
    expect(response.json).toMatchObject({
      errors: [
        {
          message: expect.stringMatching(new RegExp(`^${member}: .*${MAX_JSON_NESTING} levels`)),
          extensions: { code: 'VALIDATION_FAILED', field: member },
        },
      ],
    });
    expect(leaksIn(response.text)).toEqual([]);
  }

  /** Runs `attempt` and checks that no table changed. */
  async function writesNothing(attempt: () => Promise<void>) {
    const before = await snapshotTables(db);
    await attempt();
    const after = await snapshotTables(db);
    expect(rowCounts(after)).toEqual(rowCounts(before));
    expect(after).toEqual(before);
  }

  it(`${MAX_JSON_NESTING} levels are stored, on both surfaces`, async () => {
    const created = await restWrite('POST', '/public/v2/flow-runs', triggerBody('state', nestedText(MAX_JSON_NESTING)));
    expect(created.status, created.text.slice(0, 300)).toBe(201);
    const message = await restWrite('POST', '/public/v2/flow-runs', triggerBody('initialMessage', deepMessageText(MAX_JSON_NESTING)), {
      'Idempotency-Key': 'nesting-at-limit',
    });
    expect(message.status, message.text.slice(0, 300)).toBe(201);
    const asString = await restWrite('PATCH', `/public/v2/flow-runs/${fixture.queuedRunId}`, patchBody(JSON.stringify(nestedText(MAX_JSON_NESTING))));
    expect(asString.status, asString.text.slice(0, 300)).toBe(200);

    const input = { flowId: fixture.flowId, messageThreadId: fixture.webThreadId, state: '__VALUE__', initialMessage: {} };
    const viaVariable = await graphqlWithVariable(TRIGGER, { input }, nestedText(MAX_JSON_NESTING));
    expect(viaVariable.json).toMatchObject({ data: { triggerFlowRun: { replayed: false } } });
    const inline = await graphqlRequest(app, key, {
      query: `mutation { triggerFlowRun(input: { flowId: "${fixture.flowId}", messageThreadId: "${fixture.webThreadId}",
        state: {}, initialMessage: ${deepMessageText(MAX_JSON_NESTING).replace(/"(\w+)":/g, '$1:')} }) { replayed } }`,
    });
    expect(inline.json).toEqual({ data: { triggerFlowRun: { replayed: false } } });
  });

  describe.each(OVER)('%i levels', (levels) => {
    it('REST POST: state (object or JSON string) and initialMessage, with or without an Idempotency-Key, are 400 naming the attribute', async () => {
      await writesNothing(async () => {
        for (const headers of [{}, { 'Idempotency-Key': `nesting-${levels}` }] as Record<string, string>[]) {
          const path = '/public/v2/flow-runs';
          expectRestRefusal(await restWrite('POST', path, triggerBody('state', nestedText(levels)), headers), 'state');
          expectRestRefusal(await restWrite('POST', path, triggerBody('state', JSON.stringify(nestedText(levels))), headers), 'state');
          expectRestRefusal(await restWrite('POST', path, triggerBody('initialMessage', deepMessageText(levels)), headers), 'initialMessage');
        }
      });
    });

    it('REST PATCH: state (object or JSON string) is 400 naming the attribute', async () => {
      await writesNothing(async () => {
        const path = `/public/v2/flow-runs/${fixture.queuedRunId}`;
        expectRestRefusal(await restWrite('PATCH', path, patchBody(nestedText(levels))), 'state');
        expectRestRefusal(await restWrite('PATCH', path, patchBody(JSON.stringify(nestedText(levels)))), 'state');
      });
    });

    it('GraphQL variables: triggerFlowRun and patchFlowRun are VALIDATION_FAILED naming the field', async () => {
      await writesNothing(async () => {
        for (const idempotencyKey of [undefined, `nesting-gql-${levels}`]) {
          const base = { flowId: fixture.flowId, messageThreadId: fixture.webThreadId, state: {}, initialMessage: {}, idempotencyKey };
          for (const [member, valueText] of [
            ['state', nestedText(levels)],
            ['state', JSON.stringify(nestedText(levels))],
            ['initialMessage', deepMessageText(levels)],
          ] as const) {
            const response = await graphqlWithVariable(TRIGGER, { input: { ...base, [member]: '__VALUE__' } }, valueText);
            expectGraphQLRefusal(response, member);
          }
        }
        for (const valueText of [nestedText(levels), JSON.stringify(nestedText(levels))]) {
          const response = await graphqlWithVariable(PATCH, { id: fixture.queuedRunId, input: { state: '__VALUE__' } }, valueText);
          expectGraphQLRefusal(response, 'state');
        }
      });
    });

    it('GraphQL inline values: refused with a coded error, never a 500', async () => {
      await writesNothing(async () => {
        for (const member of ['state', 'initialMessage']) {
          const value = member === 'state' ? nestedLiteral(levels) : deepMessageText(levels).replace(/"(\w+)":/g, '$1:');
          const other = member === 'state' ? 'initialMessage: {}' : 'state: {}';
          const trigger = await graphqlRequest(app, key, {
            query: `mutation { triggerFlowRun(input: { flowId: "${fixture.flowId}", messageThreadId: "${fixture.webThreadId}",
              ${other}, ${member}: ${value} }) { replayed } }`,
          });
          const patch = await graphqlRequest(app, key, {
            query: `mutation { patchFlowRun(id: "${fixture.queuedRunId}", input: { state: ${nestedLiteral(levels)} }) { flowRun { id } } }`,
          });
          if (levels === MAX_JSON_NESTING + 1) {
            expectGraphQLRefusal(trigger, member);
            expectGraphQLRefusal(patch, 'state');
          } else {
            // Deeper than a document of the token limit can spell: the token limit stops the parser first.
            for (const response of [trigger, patch]) {
              expect(response.status).toBeLessThan(500);
              expect(response.json).toMatchObject({ errors: [{ extensions: { code: 'QUERY_LIMIT_EXCEEDED' } }] });
              expect((response.json as { errors: { message: string }[] }).errors[0]?.message).toMatch(/token limit/i);
            }
          }
        }
      });
    });
  });
});
