// The flow-run operations over GraphQL/HTTP: queries, mutations, their errors, auth and
// tenancy, and the one-running rule under real concurrent requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createKey, createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { newThread } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { graphql } from './generated/gql.ts';

const CreateFlow = graphql(`
  mutation CreateFlow($input: CreateFlowInput!) { createFlow(input: $input) { flow { id name sessionTimeout } } }
`);
const Trigger = graphql(`
  mutation Trigger($input: TriggerFlowRunInput!) {
    triggerFlowRun(input: $input) {
      replayed
      flowRun { id status state initialMessage cost flow { id } messageThread { id } }
    }
  }
`);
const Patch = graphql(`
  mutation Patch($id: UUID!, $input: PatchFlowRunInput!) { patchFlowRun(id: $id, input: $input) { flowRun { id status state } } }
`);
const Delete = graphql(`mutation Delete($id: UUID!) { deleteFlowRun(id: $id) { deletedId } }`);
const Run = graphql(`query Run($id: UUID!) { flowRun(id: $id) { id status } }`);
const Runs = graphql(`
  query Runs($filter: FlowRunFilter, $orderBy: [FlowRunOrder!], $first: Int, $after: String, $offset: Int) {
    flowRuns(filter: $filter, orderBy: $orderBy, first: $first, after: $after, offset: $offset) {
      totalCount
      totalUnfilteredCount
      pageInfo { hasNextPage endCursor }
      edges { node { id status } }
    }
  }
`);

describe.each(databaseTargets())('flow runs over GraphQL on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let flowId: string;

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    org = await createTestTenant(db);
    const flow = await sendGraphQL(app, org.key, CreateFlow, { input: { name: 'Onboarding' } });
    expect(flow.data!.createFlow!.flow!.sessionTimeout).toBe(1440);
    flowId = flow.data!.createFlow!.flow!.id;
  });
  afterAll(() => db.close());

  it('triggers a running run, then queues behind it, and promotes on finish', async () => {
    const messageThreadId = await newThread(org.tenant);
    const first = await sendGraphQL(app, org.key, Trigger, {
      input: { flowId, messageThreadId, state: '{"first_name":"Henk"}', initialMessage: {} },
    });
    expect(first.errors).toBeUndefined();
    expect(first.data!.triggerFlowRun!.flowRun).toMatchObject({
      status: 'running',
      state: { first_name: 'Henk' },
      initialMessage: {},
      cost: 0,
      flow: { id: flowId },
      messageThread: { id: messageThreadId },
    });
    const second = await sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    expect(second.data!.triggerFlowRun!.flowRun!.status).toBe('queued');

    const finished = await sendGraphQL(app, org.key, Patch, {
      id: first.data!.triggerFlowRun!.flowRun!.id,
      input: { status: 'finished' },
    });
    expect(finished.data!.patchFlowRun!.flowRun!.status).toBe('finished');
    const promoted = await sendGraphQL(app, org.key, Run, { id: second.data!.triggerFlowRun!.flowRun!.id });
    expect(promoted.data!.flowRun!.status).toBe('running');
  });

  it('answers rule violations with the domain code and the offending field', async () => {
    const messageThreadId = await newThread(org.tenant, 'visitor', 'whatsapp');
    const badMessage = await sendGraphQL(app, org.key, Trigger, {
      input: { flowId, messageThreadId, state: {}, initialMessage: { type: 'text', text: 'hi' } },
    });
    // A failed mutation nulls its own field only.
    expect(badMessage.data).toEqual({ triggerFlowRun: null });
    expect(badMessage.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'initialMessage.type' });

    const run = await sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    const id = run.data!.triggerFlowRun!.flowRun!.id;
    const stateWhileRunning = await sendGraphQL(app, org.key, Patch, { id, input: { state: {} } });
    expect(stateWhileRunning.errors?.[0]?.extensions?.code).toBe('STATE_LOCKED_WHILE_RUNNING');
    const opening = await sendGraphQL(app, org.key, Patch, { id, input: { initialMessage: {} } });
    expect(opening.errors![0]).toMatchObject({
      message: 'opening message can not be updated',
      extensions: { code: 'INITIAL_MESSAGE_IMMUTABLE' },
    });
    const queued = await sendGraphQL(app, org.key, Patch, { id, input: { status: 'queued' } });
    expect(queued.errors?.[0]?.extensions?.code).toBe('STATUS_NOT_SETTABLE');
    await sendGraphQL(app, org.key, Patch, { id, input: { status: 'cancelled' } });
    const again = await sendGraphQL(app, org.key, Patch, { id, input: { status: 'finished' } });
    expect(again.errors?.[0]?.extensions?.code).toBe('RUN_ALREADY_ENDED');
    const same = await sendGraphQL(app, org.key, Patch, { id, input: { status: 'cancelled' } });
    expect(same.data!.patchFlowRun!.flowRun!.status).toBe('cancelled');
  });

  it('lists with filters, ordering, cursors and offsets', async () => {
    const messageThreadId = await newThread(org.tenant);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
      ids.push(run.data!.triggerFlowRun!.flowRun!.id);
    }
    const filter = { messageThreadId };
    const all = await sendGraphQL(app, org.key, Runs, { filter, first: 10 });
    expect(all.data!.flowRuns.totalCount).toBe(5);
    expect(all.data!.flowRuns.totalUnfilteredCount).toBeGreaterThan(5);
    expect(all.data!.flowRuns.edges.map((edge) => edge.node.id)).toEqual([...ids].reverse());

    const queued = await sendGraphQL(app, org.key, Runs, { filter: { ...filter, status: ['queued'] } });
    expect(queued.data!.flowRuns.totalCount).toBe(4);

    const page1 = await sendGraphQL(app, org.key, Runs, { filter, first: 2, orderBy: [{ field: 'createdAt', direction: 'ASC' }] });
    expect(page1.data!.flowRuns.pageInfo.hasNextPage).toBe(true);
    const page2 = await sendGraphQL(app, org.key, Runs, {
      filter,
      first: 2,
      after: page1.data!.flowRuns.pageInfo.endCursor,
      orderBy: [{ field: 'createdAt', direction: 'ASC' }],
    });
    expect(page2.data!.flowRuns.edges.map((edge) => edge.node.id)).toEqual(ids.slice(2, 4));
    const byOffset = await sendGraphQL(app, org.key, Runs, {
      filter,
      first: 2,
      offset: 4,
      orderBy: [{ field: 'createdAt', direction: 'ASC' }],
    });
    expect(byOffset.data!.flowRuns.edges.map((edge) => edge.node.id)).toEqual(ids.slice(4));
  });

  it('requires a key, and a write key to write', async () => {
    const missing = await sendGraphQL(app, undefined, Runs, {});
    expect(missing.status).toBe(401);
    expect(missing.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const wrong = await sendGraphQL(app, 'frg_not-a-key', Runs, {});
    expect(wrong.status).toBe(401);

    const readKey = await createKey(db, org.organizationId, 'read');
    const bearer = await app.fetch(
      new Request('http://test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${readKey}` },
        body: JSON.stringify({ query: '{ flowRuns { totalCount } }' }),
      }),
    );
    expect(bearer.status).toBe(200);
    const write = await sendGraphQL(app, readKey, CreateFlow, { input: { name: 'Nope' } });
    expect(write.errors![0]).toMatchObject({ message: expect.stringContaining('access denied'), extensions: { code: 'READ_ONLY_KEY' } });
  });

  it("never shows or touches another organization's runs", async () => {
    const messageThreadId = await newThread(org.tenant);
    const run = await sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    const id = run.data!.triggerFlowRun!.flowRun!.id;
    const other = await createTestTenant(db, 'write', 'Other org');

    expect((await sendGraphQL(app, other.key, Run, { id })).data!.flowRun).toBeNull();
    expect((await sendGraphQL(app, other.key, Runs, {})).data!.flowRuns.totalUnfilteredCount).toBe(0);
    const foreignPatch = await sendGraphQL(app, other.key, Patch, { id, input: { status: 'finished' } });
    expect(foreignPatch.errors![0], JSON.stringify(foreignPatch.errors)).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    expect((await sendGraphQL(app, other.key, Delete, { id })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const borrowed = await sendGraphQL(app, other.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    expect(borrowed.errors?.[0]?.extensions?.code).toBe('REFERENCED_RESOURCE_NOT_FOUND');
    expect((await sendGraphQL(app, org.key, Run, { id })).data!.flowRun!.status).toBe('running');
  });

  it('keeps exactly one run running under 50 concurrent trigger requests', async () => {
    const messageThreadId = await newThread(org.tenant);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } })),
    );
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
    const statuses = results.map((result) => result.data!.triggerFlowRun!.flowRun!.status);
    expect(statuses.filter((status) => status === 'running')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'queued')).toHaveLength(49);
    const stored = await sendGraphQL(app, org.key, Runs, { filter: { messageThreadId, status: ['running'] } });
    expect(stored.data!.flowRuns.totalCount).toBe(1);
  });

  it('deletes a run and promotes the next one', async () => {
    const messageThreadId = await newThread(org.tenant);
    const first = await sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    const second = await sendGraphQL(app, org.key, Trigger, { input: { flowId, messageThreadId, state: {}, initialMessage: {} } });
    const deleted = await sendGraphQL(app, org.key, Delete, { id: first.data!.triggerFlowRun!.flowRun!.id });
    expect(deleted.data!.deleteFlowRun!.deletedId).toBe(first.data!.triggerFlowRun!.flowRun!.id);
    expect((await sendGraphQL(app, org.key, Run, { id: first.data!.triggerFlowRun!.flowRun!.id })).data!.flowRun).toBeNull();
    expect((await sendGraphQL(app, org.key, Run, { id: second.data!.triggerFlowRun!.flowRun!.id })).data!.flowRun!.status).toBe('running');
  });
});
