// The JSON:API adapter adds no SQL of its own: a page of 100 runs with
// include=flow,messageThread costs exactly the statements of the equivalent GraphQL query
// (the same fields, relations and counts), and the same for 10 runs as for 100.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { RESOURCE_BY_TYPE } from '../../src/rest/routes.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { at } from '../support/items.ts';
import { seedRunsOnSeparateThreads } from '../support/seed.ts';
import { call } from './support.ts';

const attributes = (type: string) => RESOURCE_BY_TYPE.get(type)!.attributes.join(' ');

/** What GET /flow-runs?include=flow,messageThread&page[size]=N shows, asked of GraphQL. */
const GRAPHQL_PAGE = `query Page($first: Int!) {
  flowRuns(first: $first) {
    totalCount
    totalUnfilteredCount
    edges {
      node {
        id ${attributes('flowRuns')}
        flow { id ${attributes('flows')} }
        messageThread { id ${attributes('messageThreads')} }
      }
    }
  }
}`;

describe.each(databaseTargets())('SQL statements per page, REST and GraphQL, on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    const org = await createTestTenant(db);
    key = org.key;
    await seedRunsOnSeparateThreads(org.tenant, { flows: 20, runs: 100 });
  });
  afterAll(() => db.close());

  async function restStatements(size: number) {
    const response = await call(app, 'GET', `/public/v2/flow-runs?include=flow,messageThread&page[size]=${size}`, { key });
    expect(response.status).toBe(200);
    expect(response.json.data).toHaveLength(size);
    expect(response.json.included.filter((r: { type: string }) => r.type === 'messageThreads')).toHaveLength(size);
    db.statements.length = 0;
    const again = await call(app, 'GET', `/public/v2/flow-runs?include=flow,messageThread&page[size]=${size}`, { key });
    expect(again.json).toEqual(response.json);
    return [...db.statements];
  }

  async function graphqlStatements(first: number) {
    const result = await sendGraphQL<{ flowRuns: { edges: unknown[] } }, unknown>(app, key, GRAPHQL_PAGE, { first });
    expect(result.errors).toBeUndefined();
    expect(result.data!.flowRuns.edges).toHaveLength(first);
    // Measured on a second run, like REST above: whatever the first request of a key costs
    // (the key lookup, when not remembered) is left out of both.
    db.statements.length = 0;
    await sendGraphQL(app, key, GRAPHQL_PAGE, { first });
    return [...db.statements];
  }

  it('a page of 100 runs with flow and messageThread costs what GraphQL costs, and what 10 cost', async () => {
    const rest100 = await restStatements(100);
    const graphql100 = await graphqlStatements(100);
    const rest10 = await restStatements(10);
    console.log(`[${target.name}] statements: REST 100 → ${rest100.length}, GraphQL 100 → ${graphql100.length}, REST 10 → ${rest10.length}`);
    expect(rest100.length).toBe(graphql100.length);
    expect(rest100.length).toBe(rest10.length);
    expect(rest100.length).toBeLessThanOrEqual(6);
  });

  it('a trigger is one statement on both surfaces, the run it answers with included (no reload)', async () => {
    const flowId = at(
      (await sendGraphQL<{ flows: { edges: { node: { id: string } }[] } }, unknown>(app, key, '{ flows(first: 1) { edges { node { id } } } }')).data!
        .flows.edges,
      0,
      'flow',
    ).node.id;
    const threads = await Promise.all(
      ['statement-a', 'statement-b'].map(
        async (identifier) =>
          (
            await sendGraphQL<{ createMessageThread: { messageThread: { id: string } } }, unknown>(
              app,
              key,
              `mutation { createMessageThread(input: { channel: web, identifier: "${identifier}" }) { messageThread { id } } }`,
            )
          ).data!.createMessageThread.messageThread.id,
      ),
    );
    db.statements.length = 0;
    const graphql = await sendGraphQL<{ triggerFlowRun: { flowRun: { status: string } } }, unknown>(
      app,
      key,
      `mutation ($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { flowRun { id ${attributes('flowRuns')} } } }`,
      { input: { flowId, messageThreadId: threads[0], state: { a: 1 }, initialMessage: {} } },
    );
    expect(graphql.errors).toBeUndefined();
    expect(graphql.data!.triggerFlowRun.flowRun.status).toBe('running');
    expect(db.statements).toHaveLength(1);

    db.statements.length = 0;
    const rest = await call(app, 'POST', '/public/v2/flow-runs', {
      key,
      body: { data: { type: 'flowRuns', attributes: { flowId, messageThreadId: threads[1], state: { a: 1 }, initialMessage: {} } } },
    });
    expect(rest.status).toBe(201);
    expect(db.statements).toHaveLength(1);
  });
});
