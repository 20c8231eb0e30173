// Idempotent triggers (docs/API.md) on both surfaces: an Idempotency-Key (GraphQL:
// idempotencyKey) creates at most one run per organization for 24 hours, also when the
// retries race; the same key with another body is refused; an expired key counts no more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowRunChange } from '../../src/domain/flow-run-changes.ts';
import { forgetExpiredIdempotencyKeys } from '../../src/domain/idempotent-triggers.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { HOUR, TestClock } from '../support/clock.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { at } from '../support/items.ts';
import { postFlow, postThread } from '../support/rest-fixtures.ts';
import { call, type CallResult } from './support.ts';

describe.each(databaseTargets())('idempotent triggers on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let clock: TestClock;
  let org: TestTenant;
  let other: TestTenant;

  const post = (body: unknown, idempotencyKey?: string, as = org) =>
    call(app, 'POST', '/public/v2/flow-runs', {
      key: as.key,
      body,
      headers: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey },
    });
  const runBody = (flowId: string, messageThreadId: string, state: unknown = {}) => ({
    data: { type: 'flowRuns', attributes: { flowId, messageThreadId, state, initialMessage: {} } },
  });
  const flowAndThread = async (as = org) => ({
    flowId: await postFlow(app, as.key, 'Idempotent'),
    threadId: await postThread(app, as.key, 'web', 'idem'),
  });
  const runsOfThread = (messageThreadId: string) => db.prisma.flowRun.count({ where: { messageThreadId } });
  const replayedHeader = (response: CallResult) => response.headers.get('Idempotent-Replayed');

  beforeAll(async () => {
    db = await openTestDatabase(target);
    clock = new TestClock(new Date('2026-03-01T09:00:00Z'));
    const changes = { publish: (_changes: readonly FlowRunChange[]) => undefined };
    app = createApp({ db, services: { clock, changes } });
    org = await createTestTenant(db, 'write', 'Idempotent org');
    other = await createTestTenant(db, 'write', 'Other org');
  });
  afterAll(async () => {
    await db?.close();
  });

  it('20 concurrent POSTs with one key and one body create exactly one run', async () => {
    const { flowId, threadId } = await flowAndThread();
    const body = runBody(flowId, threadId, { first_name: 'Henk' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => post(body, 'retry-storm')));

    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    const ids = new Set(responses.map((response) => response.json.data.id));
    expect(ids.size).toBe(1);
    const [id] = ids;
    for (const response of responses) {
      expect(response.headers.get('Location')).toBe(`/public/v2/flow-runs/${id}`);
      expect(response.json.data.attributes.status).toBe('running');
    }
    expect(responses.filter((response) => replayedHeader(response) === 'true')).toHaveLength(19);
    expect(responses.filter((response) => replayedHeader(response) === null)).toHaveLength(1);
    expect(await runsOfThread(threadId)).toBe(1);
  });

  it('costs one SQL statement on the first use of a key and two on a replay, on both surfaces', async () => {
    const { flowId, threadId } = await flowAndThread();
    const body = runBody(flowId, threadId, { first_name: 'Henk' });
    const counted = async <T>(request: () => Promise<T>) => {
      db.statements.length = 0;
      const result = await request();
      return { result, statements: [...db.statements] };
    };

    const first = await counted(() => post(body, 'counted-rest'));
    expect(first.result.status).toBe(201);
    expect(replayedHeader(first.result)).toBeNull();
    const replay = await counted(() => post(body, 'counted-rest'));
    expect(replayedHeader(replay.result)).toBe('true');
    expect(replay.result.json.data.id).toBe(first.result.json.data.id);

    const Trigger = 'mutation($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { replayed flowRun { id status } } }';
    const input = { flowId, messageThreadId: threadId, state: {}, initialMessage: {}, idempotencyKey: 'counted-graphql' };
    type Payload = { triggerFlowRun: { replayed: boolean; flowRun: { id: string; status: string } } };
    const graphql = await counted(() => sendGraphQL<Payload, unknown>(app, org.key, Trigger, { input }));
    expect(graphql.result.errors).toBeUndefined();
    expect(graphql.result.data!.triggerFlowRun).toMatchObject({ replayed: false, flowRun: { status: 'queued' } });
    const graphqlReplay = await counted(() => sendGraphQL<Payload, unknown>(app, org.key, Trigger, { input }));
    expect(graphqlReplay.result.data!.triggerFlowRun.replayed).toBe(true);

    console.log(
      `[${target.name}] statements with an Idempotency-Key: REST first use ${first.statements.length}, replay ${replay.statements.length}; ` +
        `GraphQL first use ${graphql.statements.length}, replay ${graphqlReplay.statements.length}`,
    );
    expect(first.statements).toHaveLength(1);
    expect(graphql.statements).toHaveLength(1);
    expect(replay.statements.length).toBeLessThanOrEqual(2);
    expect(graphqlReplay.statements.length).toBeLessThanOrEqual(2);
    expect(await runsOfThread(threadId)).toBe(2);
  });

  it('replays the run as it is now; a JSON-string state equal to the object is the same body', async () => {
    const { flowId, threadId } = await flowAndThread();
    const first = await post(runBody(flowId, threadId, { b: 1, a: [1, { y: 2, x: 1 }] }), 'string-state');
    expect(first.status).toBe(201);
    expect(replayedHeader(first)).toBeNull();
    const patched = await call(app, 'PATCH', `/public/v2/flow-runs/${first.json.data.id}`, {
      key: org.key,
      body: { data: { type: 'flowRuns', id: first.json.data.id, attributes: { status: 'finished' } } },
    });
    expect(patched.status).toBe(200);

    const again = await post(runBody(flowId, threadId, '{"a":[1,{"x":1,"y":2}],"b":1}'), 'string-state');
    expect(again.status).toBe(201);
    expect(replayedHeader(again)).toBe('true');
    expect(again.json.data.id).toBe(first.json.data.id);
    expect(again.json.data.attributes.status).toBe('finished');
    expect(await runsOfThread(threadId)).toBe(1);
  });

  it('refuses the same key with a different body (409 IDEMPOTENCY_KEY_REUSED, naming the header)', async () => {
    const { flowId, threadId } = await flowAndThread();
    expect((await post(runBody(flowId, threadId), 'reused')).status).toBe(201);
    const different = await post(runBody(flowId, threadId, { changed: true }), 'reused');
    expect(different.status).toBe(409);
    expect(different.json.errors[0]).toMatchObject({ status: '409', code: 'IDEMPOTENCY_KEY_REUSED', source: { header: 'Idempotency-Key' } });
    expect(await runsOfThread(threadId)).toBe(1);
  });

  it('keeps keys per organization', async () => {
    const mine = await flowAndThread();
    const theirs = await flowAndThread(other);
    const first = await post(runBody(mine.flowId, mine.threadId), 'shared-key');
    const second = await post(runBody(theirs.flowId, theirs.threadId), 'shared-key', other);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(replayedHeader(second)).toBeNull();
    expect(second.json.data.id).not.toBe(first.json.data.id);
  });

  it('counts a key for 24 hours only; the sweeper forgets older keys', async () => {
    const { flowId, threadId } = await flowAndThread();
    const body = runBody(flowId, threadId);
    const first = await post(body, 'daily');
    clock.advance(24 * HOUR - 1000);
    const within = await post(body, 'daily');
    expect(replayedHeader(within)).toBe('true');
    expect(within.json.data.id).toBe(first.json.data.id);

    clock.advance(1000);
    const after = await post(body, 'daily');
    expect(after.status).toBe(201);
    expect(replayedHeader(after)).toBeNull();
    expect(after.json.data.id).not.toBe(first.json.data.id);
    expect(await runsOfThread(threadId)).toBe(2);
    // The key now names the new run, for 24 hours from now.
    expect((await post(body, 'daily')).json.data.id).toBe(after.json.data.id);

    const stored = () => db.prisma.idempotentTrigger.count({ where: { organizationId: org.organizationId } });
    const before = await stored();
    clock.advance(24 * HOUR);
    expect(await forgetExpiredIdempotencyKeys(db.prisma, { clock })).toBeGreaterThanOrEqual(before);
    expect(await stored()).toBe(0);
  });

  it('does not burn a key when the trigger fails', async () => {
    const { flowId, threadId } = await flowAndThread();
    const missingFlow = await post(runBody('00000000-0000-4000-8000-000000000000', threadId), 'after-a-failure');
    expect(missingFlow.status).toBe(422);
    const fixed = await post(runBody(flowId, threadId), 'after-a-failure');
    expect(fixed.status).toBe(201);
    expect(replayedHeader(fixed)).toBeNull();
  });

  it('answers 409 IDEMPOTENT_RUN_DELETED when the run of the key was deleted', async () => {
    const { flowId, threadId } = await flowAndThread();
    const first = await post(runBody(flowId, threadId), 'deleted-since');
    expect((await call(app, 'DELETE', `/public/v2/flow-runs/${first.json.data.id}`, { key: org.key })).status).toBe(204);
    const retry = await post(runBody(flowId, threadId), 'deleted-since');
    expect(retry.status).toBe(409);
    expect(retry.json.errors[0].code).toBe('IDEMPOTENT_RUN_DELETED');
    expect(await runsOfThread(threadId)).toBe(0);
  });

  it.each([
    ['an empty key', ''],
    ['a key of 256 characters', 'k'.repeat(256)],
    ['a key with a control character', 'a\tb'],
  ])('refuses %s with 400 naming the header', async (_label, idempotencyKey) => {
    const { flowId, threadId } = await flowAndThread();
    const response = await post(runBody(flowId, threadId), idempotencyKey);
    expect(response.status).toBe(400);
    expect(response.json.errors[0]).toMatchObject({ code: 'VALIDATION_FAILED', source: { header: 'Idempotency-Key' } });
    expect(await runsOfThread(threadId)).toBe(0);
  });

  it('takes a key of 255 printable characters', async () => {
    const { flowId, threadId } = await flowAndThread();
    const key = ' ~!"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}'.padEnd(255, 'x');
    expect((await post(runBody(flowId, threadId), key)).status).toBe(201);
    expect(replayedHeader(await post(runBody(flowId, threadId), key))).toBe('true');
  });

  it('does not take idempotencyKey as an attribute: it is a header', async () => {
    const { flowId, threadId } = await flowAndThread();
    const body = runBody(flowId, threadId) as { data: { attributes: Record<string, unknown> } };
    body.data.attributes.idempotencyKey = 'in-the-body';
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(response.json.errors.map((e: { source: { pointer: string } }) => e.source.pointer)).toEqual(['/data/attributes/idempotencyKey']);
  });

  describe('over GraphQL', () => {
    const Trigger = `mutation($input: TriggerFlowRunInput!) {
      triggerFlowRun(input: $input) { replayed flowRun { id status } }
    }`;
    type TriggerResult = { triggerFlowRun: { replayed: boolean; flowRun: { id: string; status: string } } };
    const trigger = (input: Record<string, unknown>, as = org) => sendGraphQL<TriggerResult, unknown>(app, as.key, Trigger, { input });

    it('replays under concurrency, refuses another input, and forgets after 24 hours', async () => {
      const { flowId, threadId } = await flowAndThread();
      const input = { flowId, messageThreadId: threadId, state: {}, initialMessage: {}, idempotencyKey: 'gql-key' };
      const results = await Promise.all(Array.from({ length: 10 }, () => trigger(input)));
      expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
      const payloads = results.map((result) => result.data!.triggerFlowRun);
      expect(new Set(payloads.map((payload) => payload.flowRun.id)).size).toBe(1);
      expect(payloads.filter((payload) => payload.replayed)).toHaveLength(9);
      expect(await runsOfThread(threadId)).toBe(1);

      // The REST header and the GraphQL field are one key.
      const rest = await post(runBody(flowId, threadId), 'gql-key');
      expect(replayedHeader(rest)).toBe('true');
      expect(rest.json.data.id).toBe(at(payloads, 0).flowRun.id);

      const reused = await trigger({ ...input, state: { other: 1 } });
      expect(reused.errors?.[0]?.extensions).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'idempotencyKey' });

      const invalid = await trigger({ ...input, idempotencyKey: '' });
      expect(invalid.errors?.[0]?.extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'idempotencyKey' });

      clock.advance(24 * HOUR);
      const later = await trigger(input);
      expect(later.data!.triggerFlowRun.replayed).toBe(false);
      expect(later.data!.triggerFlowRun.flowRun.id).not.toBe(at(payloads, 0).flowRun.id);
    });

    it('without a key, every trigger creates a run', async () => {
      const { flowId, threadId } = await flowAndThread();
      const input = { flowId, messageThreadId: threadId, state: {}, initialMessage: {} };
      const [a, b] = [await trigger(input), await trigger(input)];
      expect([a.data!.triggerFlowRun.replayed, b.data!.triggerFlowRun.replayed]).toEqual([false, false]);
      expect(await runsOfThread(threadId)).toBe(2);
    });
  });
});
