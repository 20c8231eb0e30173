// The GraphQL examples of the README (its first request) and of docs/GRAPHQL.md, run against
// the demo data: if one breaks, so does this.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoIfEmpty } from '../src/demo-data.ts';
import { createApp, type App } from '../src/http/app.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from './support/database.ts';
import { sendGraphQL } from './support/graphql.ts';
import { at, captured } from './support/items.ts';

const examplesOf = (file: string) =>
  [...readFileSync(new URL(`../${file}`, import.meta.url), 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => at(match, 1));
const readmeExamples = examplesOf('README.md');
const docExamples = examplesOf('docs/GRAPHQL.md');
const graphqlExamples = [
  ...readmeExamples.map((example) => ['README.md', example] as const),
  ...docExamples.map((example) => ['docs/GRAPHQL.md', example] as const),
];

describe.each(databaseTargets())('on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    key = (await seedDemoIfEmpty(db))!;
    app = createApp({ db });
  });
  afterAll(() => db.close());

  it('has GraphQL examples: a first request in the README, the rest in docs/GRAPHQL.md', () => {
    expect(readmeExamples.length).toBeGreaterThanOrEqual(1);
    expect(docExamples.length).toBeGreaterThanOrEqual(4);
  });

  it.each(graphqlExamples.map(([file, example]) => [file, captured(/(query|mutation) (\w+)/, example, 2), example]))(
    '%s example %s runs without errors',
    async (_file, _name, example) => {
      const runs = await sendGraphQL<{ flowRuns: { edges: { node: { id: string } }[] } }, unknown>(
        app,
        key,
        '{ flowRuns(first: 1) { edges { node { flow { id } messageThread { id } } } } }',
      );
      const sample = at(runs.data!.flowRuns.edges, 0).node as unknown as { flow: { id: string }; messageThread: { id: string } };
      const result = await sendGraphQL<Record<string, unknown>, unknown>(app, key, example, {
        flowId: sample.flow.id,
        messageThreadId: sample.messageThread.id,
      });
      expect(result.errors).toBeUndefined();
      expect(Object.keys(result.data!)).not.toHaveLength(0);
    },
  );

  it('the demo data has runs in several states', async () => {
    const result = await sendGraphQL<{ flowRuns: { edges: { node: { status: string } }[] } }, unknown>(
      app,
      key,
      '{ flowRuns(first: 100) { edges { node { status } } } }',
    );
    const statuses = new Set(result.data!.flowRuns.edges.map((edge) => edge.node.status));
    expect(statuses.size).toBeGreaterThanOrEqual(3);
  });
});
