// Polling runs over JSON:API: filter[updatedSince] (inclusive) with sort=updatedAt. The
// documents render updatedAt in whole seconds, so a poller storing the largest one it saw
// stores a time at or before the true one: asking again from it (inclusive) re-reads that
// second and misses nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newFlow, newThread, triggerRun } from '../support/fixtures.ts';
import { call } from './support.ts';

const T0 = new Date('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

interface Run {
  id: string;
  attributes: { updatedAt: string };
}

describe.each(databaseTargets())('polling runs by updatedAt over JSON:API on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let ids: string[];

  const list = (query: string) => call(app, 'GET', `/public/v2/flow-runs?${query}`, { key: org.key });
  const idsOf = (data: Run[]) => data.map((run) => run.id);

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    org = await createTestTenant(db);
    const flowId = await newFlow(org.tenant, 'Polled');
    ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await triggerRun(org.tenant, flowId, await newThread(org.tenant, 'rest-poll'))).id);
    }
    // Runs 1–3 within one second (runs 2 and 3 in one millisecond), run 4 a second later.
    const times = [at(-2000), at(100), at(250), at(250), at(1200)];
    await Promise.all(ids.map((id, i) => db.prisma.flowRun.update({ where: { id }, data: { updatedAt: times[i] } })));
  });
  afterAll(() => db.close());

  it('filter[updatedSince] is inclusive and sort=updatedAt / -updatedAt order the runs, ties by id', async () => {
    const ascending = await list('filter[updatedSince]=2026-03-01T12:00:00.250Z&sort=updatedAt');
    expect(ascending.status).toBe(200);
    const tied = [ids[2], ids[3]].sort();
    expect(idsOf(ascending.json.data)).toEqual([...tied, ids[4]]);
    const descending = await list('filter[updatedSince]=2026-03-01T12:00:00.250Z&sort=-updatedAt');
    expect(idsOf(descending.json.data)).toEqual([ids[4], ...[...tied].reverse()]);
    expect(descending.json.meta).toMatchObject({ total: 3 });
  });

  it('a poller storing the rendered updatedAt of the last run it saw misses none of that second', async () => {
    const first = await list('filter[updatedSince]=2026-03-01T12:00:00Z&sort=updatedAt&page[size]=2');
    expect(idsOf(first.json.data)).toEqual([ids[1], [ids[2], ids[3]].sort()[0]]);
    const stored = first.json.data[1].attributes.updatedAt;
    expect(stored).toBe('2026-03-01T12:00:00+00:00');
    // Sent as rendered, "+" and all (a query string reads it as a space; the adapter knows).
    const next = await list(`filter[updatedSince]=${stored}&sort=updatedAt`);
    expect(next.status).toBe(200);
    const seen = new Set([...idsOf(first.json.data), ...idsOf(next.json.data)]);
    expect([...seen].sort()).toEqual(ids.slice(1).sort());
    // Encoded, the same.
    const encoded = await list(`filter[updatedSince]=${encodeURIComponent(stored)}&sort=updatedAt`);
    expect(idsOf(encoded.json.data)).toEqual(idsOf(next.json.data));
    // The pagination links carry the filter encoded.
    expect(first.json.links.next).toContain('filter[updatedSince]=2026-03-01T12%3A00%3A00Z');
  });

  it.each([['yesterday'], [''], ['2026-03-01T12:00:00'], ['1767225600']])('filter[updatedSince]=%s is a 400 naming the parameter', async (value) => {
    const response = await list(`filter[updatedSince]=${encodeURIComponent(value)}`);
    expect(response.status).toBe(400);
    expect(response.json.errors).toEqual([
      expect.objectContaining({
        code: 'INVALID_QUERY_PARAMETER',
        source: { parameter: 'filter[updatedSince]' },
        detail: 'filter[updatedSince]: must be a date-time with a UTC offset, such as 2024-08-20T10:45:05+00:00',
      }),
    ]);
  });

  it('sort by an unknown field names the sortable ones', async () => {
    const response = await list('sort=modifiedAt');
    expect(response.status).toBe(400);
    expect(response.json.errors[0].detail).toBe('cannot sort flowRuns by "modifiedAt"; sortable: createdAt, updatedAt, cost, status');
  });
});
