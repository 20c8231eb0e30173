// Polling runs over GraphQL: flowRuns(filter: { updatedSince }) is inclusive, so a poller
// that asks again from the largest updatedAt it saw misses no run updated in that same
// millisecond; orderBy updatedAt pages by cursor without losing or repeating a run when
// many share one updatedAt (ties go by id, in the sort's direction).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newFlow, newThread, triggerRun } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { at as itemAt } from '../support/items.ts';

interface Page {
  flowRuns: {
    totalCount: number;
    edges: { cursor: string; node: { id: string; updatedAt: string } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const POLL = `query ($since: DateTime, $direction: OrderDirection!, $first: Int, $after: String) {
  flowRuns(filter: { updatedSince: $since }, orderBy: [{ field: updatedAt, direction: $direction }], first: $first, after: $after) {
    totalCount
    edges { cursor node { id updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const T0 = new Date('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe.each(databaseTargets())('polling runs by updatedAt over GraphQL on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  /** Run ids by their place in updatedAt order (ties by id). */
  let ordered: string[];
  let tied: string[];

  const poll = async (variables: { since?: string; direction?: 'ASC' | 'DESC'; first?: number; after?: string }) => {
    const result = await sendGraphQL<Page, unknown>(app, org.key, POLL, { direction: 'ASC', ...variables });
    expect(result.errors).toBeUndefined();
    return result.data!.flowRuns;
  };

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    org = await createTestTenant(db);
    const flowId = await newFlow(org.tenant, 'Polled');
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      ids.push((await triggerRun(org.tenant, flowId, await newThread(org.tenant, 'poll'))).id);
    }
    // Two runs before T0+5ms, six in that very millisecond, one after.
    const times = [at(0), at(3), at(5), at(5), at(5), at(5), at(5), at(5), at(9)];
    await Promise.all(ids.map((id, i) => db.prisma.flowRun.update({ where: { id }, data: { updatedAt: times[i] } })));
    const byId = (a: string, b: string) => (a < b ? -1 : 1);
    tied = ids.slice(2, 8).sort(byId);
    ordered = [itemAt(ids, 0), itemAt(ids, 1), ...tied, itemAt(ids, 8)];
  });
  afterAll(() => db.close());

  it('updatedSince is inclusive: a run updated at exactly that time is in', async () => {
    expect((await poll({ since: at(5).toISOString() })).edges.map((edge) => edge.node.id)).toEqual([...tied, ordered[8]]);
    expect((await poll({ since: at(3).toISOString() })).totalCount).toBe(8);
    expect((await poll({ since: at(4).toISOString() })).totalCount).toBe(7);
    expect((await poll({ since: at(10).toISOString() })).totalCount).toBe(0);
    // Any RFC 3339 offset names the same instant.
    expect((await poll({ since: '2026-03-01T13:00:00.005+01:00' })).totalCount).toBe(7);
  });

  it('a poller asking again from the largest updatedAt it saw misses none of the runs of that millisecond', async () => {
    // It saw a page that ended in the middle of the tied millisecond.
    const first = await poll({ since: at(0).toISOString(), first: 4 });
    const seen = new Set(first.edges.map((edge) => edge.node.id));
    const largest = itemAt(first.edges, -1).node.updatedAt;
    expect(largest).toBe(at(5).toISOString());
    const next = await poll({ since: largest, first: 100 });
    const all = new Set([...seen, ...next.edges.map((edge) => edge.node.id)]);
    expect([...all].sort()).toEqual([...ordered].sort());
  });

  it.each(['ASC', 'DESC'] as const)('cursor pages in updatedAt %s order list every run once, ties by id', async (direction) => {
    const expected = direction === 'ASC' ? ordered : [...ordered].reverse();
    expect((await poll({ direction, first: 100 })).edges.map((edge) => edge.node.id)).toEqual(expected);
    const paged: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const connection = await poll({ direction, first: 2, after });
      paged.push(...connection.edges.map((edge) => edge.node.id));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor!;
    }
    expect(paged).toEqual(expected);
  });

  it('an updatedSince that is no date-time is refused by GraphQL, naming the variable', async () => {
    const result = await sendGraphQL(app, org.key, POLL, { since: 'yesterday', direction: 'ASC' });
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toMatch(/\$since/);
  });
});
