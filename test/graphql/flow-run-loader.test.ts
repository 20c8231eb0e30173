// Several `flowRun(id:)` fields read together are one SQL statement (src/graphql/flow-run-loader.ts):
// the aliases of one operation, and the operations of one batched HTTP request.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMessageThread } from '../../src/domain/message-threads.ts';
import type { Tenant } from '../../src/domain/tenant.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { newFlow, triggerRun } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { only } from '../support/items.ts';

interface Run {
  id: string;
  flowName: string;
  identifier: string;
}

async function seedRuns(tenant: Tenant, count: number, prefix: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (let i = 0; i < count; i++) {
    const flowName = `${prefix} flow ${i}`;
    const identifier = `${prefix}-visitor-${i}`;
    const thread = await createMessageThread(tenant, { channel: 'web', identifier });
    const run = await triggerRun(tenant, await newFlow(tenant, flowName), thread.id, { state: { n: i } });
    runs.push({ id: run.id, flowName, identifier });
  }
  return runs;
}

const FIVE = `query Five($a: UUID!, $b: UUID!, $c: UUID!, $unknown: UUID!, $foreign: UUID!) {
  a: flowRun(id: $a) { id status flow { id name } messageThread { id identifier } }
  b: flowRun(id: $b) { id state }
  c: flowRun(id: $c) { id state flow { name } }
  unknown: flowRun(id: $unknown) { id state }
  foreign: flowRun(id: $foreign) { id messageThread { identifier } }
}`;

describe.each(databaseTargets())('flowRun(id:) fields read together on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let runs: Run[];
  let foreignRun: Run;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    const org = await createTestTenant(db);
    key = org.key;
    runs = await seedRuns(org.tenant, 3, 'own');
    const other = await createTestTenant(db, 'write', 'Other org');
    foreignRun = only(await seedRuns(other.tenant, 1, 'foreign'));
    // The key's lookup is remembered from here on: what follows counts only the reads.
    expect((await sendGraphQL(app, key, '{ flowRuns(first: 1) { edges { node { id } } } }')).errors).toBeUndefined();
  });
  afterAll(() => db.close());

  it('5 aliased fields are one statement, each with its own answer; unknown and foreign ids are null', async () => {
    const [a, b, c] = runs;
    db.statements.length = 0;
    const result = await sendGraphQL<Record<string, Record<string, unknown> | null>, Record<string, string>>(app, key, FIVE, {
      a: a!.id,
      b: b!.id,
      c: c!.id,
      unknown: randomUUID(),
      foreign: foreignRun.id,
    });
    const statements = [...db.statements];
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      a: {
        id: a!.id,
        status: 'running',
        flow: { id: expect.any(String), name: a!.flowName },
        messageThread: { id: expect.any(String), identifier: a!.identifier },
      },
      b: { id: b!.id, state: { n: 1 } },
      c: { id: c!.id, state: { n: 2 }, flow: { name: c!.flowName } },
      unknown: null,
      foreign: null,
    });
    console.log(`[${target.name}] 5 aliased flowRun(id:) → ${statements.length} statement(s)`);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/"id" IN \(/);
  });

  it('fields asking differently of a relation (a nested list with arguments) each get their own answer', async () => {
    const [a, b] = runs;
    db.statements.length = 0;
    const result = await sendGraphQL<Record<string, any>, Record<string, string>>(
      app,
      key,
      `query Two($a: UUID!, $b: UUID!) {
        b: flowRun(id: $b) { id flow { name flowRuns(first: 5) { totalCount edges { node { id } } } } }
        a: flowRun(id: $a) { id flow { name } }
      }`,
      { a: a!.id, b: b!.id },
    );
    const statements = db.statements.length;
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      b: { id: b!.id, flow: { name: b!.flowName, flowRuns: { totalCount: 1, edges: [{ node: { id: b!.id } }] } } },
      a: { id: a!.id, flow: { name: a!.flowName } },
    });
    console.log(`[${target.name}] flowRun(id:) with and without a nested list under flow → ${statements} statement(s)`);
    // One statement per way of asking: the nested list's (Prisma's read) and the plain one,
    // plus, under compiled execution (graphql-jit), one for the nested list's totalCount,
    // which Pothos then reads on its own instead of inside the relation's read.
    expect(statements).toBe(3);
  });

  it('a batched request of 3 operations, each with flowRun(id:), is one statement', async () => {
    const operations = [
      { query: 'query A($id: UUID!) { flowRun(id: $id) { id state } }', variables: { id: runs[0]!.id } },
      { query: 'query B($id: UUID!) { flowRun(id: $id) { id flow { name } } }', variables: { id: runs[1]!.id } },
      { query: 'query C($id: UUID!) { flowRun(id: $id) { id messageThread { identifier } } }', variables: { id: foreignRun.id } },
    ];
    db.statements.length = 0;
    const response = await app.fetch(
      new Request('http://test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: key },
        body: JSON.stringify(operations),
      }),
    );
    const statements = [...db.statements];
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([
      { data: { flowRun: { id: runs[0]!.id, state: { n: 0 } } } },
      { data: { flowRun: { id: runs[1]!.id, flow: { name: runs[1]!.flowName } } } },
      { data: { flowRun: null } },
    ]);
    console.log(`[${target.name}] batched request of 3 operations → ${statements.length} statement(s)`);
    expect(statements).toHaveLength(1);
  });
});
