// A page of runs with their flow and thread costs the same number of SQL statements
// whatever its size: relations are planned into the page query, never one per row.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../../src/http/app.ts';
import { databaseTargets, openTestDatabase, createTestTenant, type TestDatabase } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { seedRunsOnSeparateThreads } from '../support/seed.ts';
import { graphql } from './generated/gql.ts';

const RunsPage = graphql(`
  query RunsPage($first: Int!) {
    flowRuns(first: $first) {
      totalCount
      edges { node { id status flow { id name } messageThread { id channel identifier } } }
    }
  }
`);

describe.each(databaseTargets())('relation batching on $name', (target) => {
  let db: TestDatabase;
  let key: string;
  let app: App;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    const org = await createTestTenant(db);
    key = org.key;
    await seedRunsOnSeparateThreads(org.tenant, { flows: 20, runs: 100 });
    app = createApp({ db });
    // The app looks the key up on its first request: made here, so that the pages below count only the query.
    expect((await sendGraphQL(app, key, RunsPage, { first: 1 })).errors).toBeUndefined();
  });
  afterAll(() => db.close());

  async function statementsFor(first: number) {
    db.statements.length = 0;
    const result = await sendGraphQL(app, key, RunsPage, { first });
    expect(result.errors).toBeUndefined();
    const edges = result.data!.flowRuns.edges;
    expect(edges).toHaveLength(first);
    for (const { node } of edges) {
      expect(node.flow.name).toMatch(/^Flow \d+$/);
      expect(node.messageThread.identifier).toMatch(/^visitor-\d+$/);
    }
    return db.statements.length;
  }

  it('costs the same for 10 and 100 runs', async () => {
    const ten = await statementsFor(10);
    const hundred = await statementsFor(100);
    console.log(`[${target.name}] statements per page: 10 runs → ${ten}, 100 runs → ${hundred}`);
    expect(hundred).toBe(ten);
    // The page with its flows and threads joined in, and the organization's run count
    // (the app remembers the API key from the set-up); the budget is 3.
    expect(hundred).toBeLessThanOrEqual(3);
  });
});
