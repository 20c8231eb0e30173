// Page-number paging on GraphQL's top-level lists: `offset` counts from the start, so it
// goes with `first` only (with a cursor it would return the cursor's row again), and it
// is bounded; both refusals carry a code and name the argument.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { at, defined } from '../support/items.ts';

const LISTS = ['flowRuns', 'flows', 'messageThreads'] as const;

describe.each(databaseTargets())('offset paging over GraphQL on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  const names: string[] = [];

  const list = (field: string, args: string) =>
    sendGraphQL<Record<string, { edges: { cursor: string; node: { id: string } }[] }>, Record<string, unknown>>(
      app,
      key,
      `{ ${field}(${args}) { edges { cursor node { id } } } }`,
    );
  const flows = (args: string) =>
    sendGraphQL<{ flows: { edges: { cursor: string; node: { name: string } }[] } }, Record<string, unknown>>(
      app,
      key,
      `{ flows(orderBy: [{ field: name, direction: ASC }], ${args}) { edges { cursor node { name } } } }`,
    );

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db)).key;
    for (let i = 0; i < 5; i++) {
      names.push(`flow ${i}`);
      const created = await sendGraphQL(app, key, `mutation { createFlow(input: { name: "flow ${i}" }) { flow { id } } }`);
      expect(created.errors).toBeUndefined();
    }
    const flowId = at((await list('flows', 'first: 1')).data?.flows?.edges ?? [], 0, 'flow').node.id;
    const thread = await sendGraphQL<{ createMessageThread: { messageThread: { id: string } } }, Record<string, unknown>>(
      app,
      key,
      'mutation { createMessageThread(input: { channel: web, identifier: "offset paging" }) { messageThread { id } } }',
    );
    const run = await sendGraphQL(app, key, 'mutation ($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { replayed } }', {
      input: { flowId, messageThreadId: thread.data!.createMessageThread.messageThread.id, state: {}, initialMessage: {} },
    });
    expect(run.errors).toBeUndefined();
  });
  afterAll(() => db?.close());

  it('offset with first pages from the start', async () => {
    const page = await flows('first: 2, offset: 2');
    expect(page.errors).toBeUndefined();
    expect(page.data!.flows.edges.map((edge) => edge.node.name)).toEqual(names.slice(2, 4));
  });

  it('offset with after, before or last is refused with PAGING_ARGUMENTS_CONFLICT, on every list', async () => {
    const all = await flows('first: 5');
    const cursor = at(all.data!.flows.edges, 1).cursor;
    for (const args of [`first: 2, after: "${cursor}", offset: 0`, `last: 2, before: "${cursor}", offset: 1`, 'last: 2, offset: 1']) {
      const refused = await flows(args);
      // Refused before execution, as the query limits are: no data at all.
      expect(refused.data ?? null, args).toBeNull();
      expect(refused.errors, args).toEqual([
        expect.objectContaining({ extensions: expect.objectContaining({ code: 'PAGING_ARGUMENTS_CONFLICT', field: 'offset' }) }),
      ]);
    }
    for (const field of LISTS) {
      const firstPage = await list(field, 'first: 1');
      expect(firstPage.errors, field).toBeUndefined();
      const after = at(defined(firstPage.data?.[field], field).edges, 0, `${field} edge`).cursor;
      const refused = await list(field, `first: 1, after: "${after}", offset: 0`);
      expect(refused.errors?.[0]?.extensions?.code, field).toBe('PAGING_ARGUMENTS_CONFLICT');
    }
    // Cursors alone still page as before.
    const next = await flows(`first: 2, after: "${cursor}"`);
    expect(next.data!.flows.edges.map((edge) => edge.node.name)).toEqual(names.slice(2, 4));
  });

  it('offset is bounded: below 0 or past 1,000,000,000 is VALIDATION_FAILED on offset', async () => {
    for (const field of LISTS) {
      for (const offset of [-1, 1_000_000_001, 2_147_483_647]) {
        const refused = await list(field, `first: 1, offset: ${offset}`);
        expect(refused.errors, `${field} ${offset}`).toEqual([
          expect.objectContaining({ extensions: expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'offset' }) }),
        ]);
      }
      const farthest = await list(field, 'first: 1, offset: 1000000000');
      expect(farthest.errors, field).toBeUndefined();
      expect(farthest.data?.[field]?.edges).toEqual([]);
    }
  });

  it('a cursor that is not one of ours is a VALIDATION_FAILED naming the argument, on every list', async () => {
    for (const field of LISTS) {
      for (const argument of ['after', 'before']) {
        const page = await list(field, `${argument === 'after' ? 'first' : 'last'}: 2, ${argument}: "not-a-cursor"`);
        expect(page.errors?.[0]?.extensions, `${field}(${argument})`).toMatchObject({ code: 'VALIDATION_FAILED', field: argument });
      }
    }
  });
});
