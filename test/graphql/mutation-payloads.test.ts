// How mutations answer: a payload whose `errors` holds the mutation's domain errors when
// the operation selects it, GraphQL errors with extensions.code when it does not, and a
// failure that nulls its own field only, leaving the committed mutations before it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createKey, createTestTenant, databaseTargets, openTestDatabase, type TestDatabase, type TestTenant } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';

type Data = Record<string, Record<string, unknown> | null>;
const ERRORS = 'errors { __typename ... on MutationError { code message field } }';
const MISSING = '00000000-0000-4000-8000-000000000000';

describe.each(databaseTargets())('mutation payloads on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let org: TestTenant;
  let flowId: string;
  let threadId: string;
  const send = (query: string, variables?: Record<string, unknown>, key = org.key) =>
    sendGraphQL<Data, Record<string, unknown>>(app, key, query, variables);

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    org = await createTestTenant(db);
    const flow = await send(`mutation { createFlow(input: { name: "Payloads" }) { flow { id } ${ERRORS} } }`);
    expect(flow.data!.createFlow).toMatchObject({ errors: [] });
    flowId = (flow.data!.createFlow!.flow as { id: string }).id;
    const thread = await send(`mutation { createMessageThread(input: { channel: web, identifier: "payloads" }) { messageThread { id } } }`);
    threadId = (thread.data!.createMessageThread!.messageThread as { id: string }).id;
    const run = await send('mutation ($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { flowRun { id } } }', {
      input: { flowId, messageThreadId: threadId, state: {}, initialMessage: {} },
    });
    expect(run.errors).toBeUndefined();
  });
  afterAll(() => db.close());

  it("answers a mutation's domain errors in its payload when the operation selects errors", async () => {
    const missing = await send(`mutation ($id: UUID!) { patchFlowRun(id: $id, input: { status: finished }) { flowRun { id } ${ERRORS} } }`, {
      id: MISSING,
    });
    expect(missing.errors).toBeUndefined();
    expect(missing.data).toEqual({
      patchFlowRun: {
        flowRun: null,
        errors: [{ __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'FlowRun not found', field: null }],
      },
    });

    const duplicate = await send(
      `mutation { createMessageThread(input: { channel: web, identifier: "payloads" }) { messageThread { id } ${ERRORS} } }`,
    );
    expect(duplicate.errors).toBeUndefined();
    expect(duplicate.data!.createMessageThread).toEqual({
      messageThread: null,
      errors: [
        {
          __typename: 'ThreadAlreadyExistsError',
          code: 'THREAD_ALREADY_EXISTS',
          message: 'a message thread with this channel and identifier already exists',
          field: 'identifier',
        },
      ],
    });

    const withRuns = await send(`mutation ($id: UUID!) { deleteFlow(id: $id) { deletedId ${ERRORS} } }`, { id: flowId });
    expect(withRuns.errors).toBeUndefined();
    expect(withRuns.data!.deleteFlow).toMatchObject({ deletedId: null, errors: [{ __typename: 'HasFlowRunsError', code: 'HAS_FLOW_RUNS' }] });

    const invalid = await send(`mutation { createFlow(input: { name: "" }) { flow { id } ${ERRORS} } }`);
    expect(invalid.errors).toBeUndefined();
    expect(invalid.data!.createFlow).toMatchObject({
      flow: null,
      errors: [{ __typename: 'ValidationError', code: 'VALIDATION_FAILED', field: 'name' }],
    });
  });

  it('finds errors selected through fragments, and raises them when the selection skips errors', async () => {
    const spread = await send(
      `mutation ($id: UUID!) { deleteFlowRun(id: $id) { ...Outcome } }
       fragment Outcome on DeleteFlowRunPayload { deletedId ... on DeleteFlowRunPayload { errors { ... on NotFoundError { code } } } }`,
      { id: MISSING },
    );
    expect(spread.errors).toBeUndefined();
    expect(spread.data).toEqual({ deleteFlowRun: { deletedId: null, errors: [{ code: 'NOT_FOUND' }] } });

    const skipped = await send(
      `mutation ($id: UUID!, $skip: Boolean!) { deleteFlowRun(id: $id) { deletedId errors @skip(if: $skip) { __typename } } }`,
      { id: MISSING, skip: true },
    );
    expect(skipped.data).toEqual({ deleteFlowRun: null });
    expect(skipped.errors).toMatchObject([{ path: ['deleteFlowRun'], extensions: { code: 'NOT_FOUND' } }]);
  });

  it('raises them as GraphQL errors with extensions.code for an operation that does not select errors', async () => {
    const missing = await send('mutation ($id: UUID!) { patchFlowRun(id: $id, input: { status: finished }) { flowRun { id } } }', {
      id: MISSING,
    });
    expect(missing.data).toEqual({ patchFlowRun: null });
    expect(missing.errors).toMatchObject([{ message: 'FlowRun not found', path: ['patchFlowRun'], extensions: { code: 'NOT_FOUND' } }]);

    const invalid = await send('mutation { createFlow(input: { name: "" }) { flow { id } } }');
    expect(invalid.errors).toMatchObject([{ extensions: { code: 'VALIDATION_FAILED', field: 'name' } }]);
  });

  it('always raises what is not an outcome of the mutation itself, such as a read-only key', async () => {
    const readKey = await createKey(db, org.organizationId, 'read');
    const refused = await send(`mutation { createFlow(input: { name: "Nope" }) { flow { id } ${ERRORS} } }`, undefined, readKey);
    expect(refused.data).toEqual({ createFlow: null });
    expect(refused.errors).toMatchObject([{ extensions: { code: 'READ_ONLY_KEY' } }]);
  });

  it('keeps the results of the mutations that committed before a failing one in the same document', async () => {
    const document = `mutation ($missing: UUID!) {
      created: createFlow(input: { name: "Committed first" }) { flow { id name } }
      failed: patchFlowRun(id: $missing, input: { status: finished }) { flowRun { id } }
    }`;
    const result = await send(document, { missing: MISSING });
    expect(result.errors).toMatchObject([{ path: ['failed'], extensions: { code: 'NOT_FOUND' } }]);
    expect(result.data!.failed).toBeNull();
    const created = result.data!.created as { flow: { id: string; name: string } };
    expect(created.flow.name).toBe('Committed first');
    const stored = await send('query ($id: UUID!) { flow(id: $id) { name } }', { id: created.flow.id });
    expect(stored.data).toEqual({ flow: { name: 'Committed first' } });
  });
});
