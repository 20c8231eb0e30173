// An input member's name is the client's own (a key of a flow run's `state`) and may hold
// `.`, `/` or `~`: an error about it names exactly that member, on both surfaces. JSON:API
// escapes the name in its pointer (RFC 6901: `~` as `~0`, `/` as `~1`) and never splits it at its dots.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { call } from './support.ts';

const MEMBER = 'a.b/c~d';
// JSON.parse makes `__proto__` an ordinary member, the way a client's request body does.
const STATE = { [MEMBER]: JSON.parse('{"__proto__": 1}') };
const DETAIL = `state.${MEMBER}.__proto__: a member may not be named "__proto__"`;

describe.each(databaseTargets())('member names in errors on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let flowId: string;
  let threadId: string;

  const create = async (path: string, type: string, attributes: Record<string, unknown>) => {
    const response = await call(app, 'POST', `/public/v2/${path}`, { key, body: { data: { type, attributes } } });
    expect(response.status, JSON.stringify(response.json)).toBe(201);
    return response.json.data.id as string;
  };

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db, 'write', 'Member names org')).key;
    flowId = await create('flows', 'flows', { name: 'Member names' });
    threadId = await create('message-threads', 'messageThreads', { channel: 'web', identifier: 'member-names' });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('JSON:API points at a state member with ".", "/" and "~" in its name, escaped per RFC 6901', async () => {
    const attributes = { flowId, messageThreadId: threadId, state: STATE, initialMessage: {} };
    const created = await call(app, 'POST', '/public/v2/flow-runs', { key, body: { data: { type: 'flowRuns', attributes } } });
    expect(created.status).toBe(400);
    expect(created.json.errors).toEqual([
      expect.objectContaining({ code: 'VALIDATION_FAILED', detail: DETAIL, source: { pointer: '/data/attributes/state/a.b~1c~0d/__proto__' } }),
    ]);
  });

  it('GraphQL names the same member in extensions.field', async () => {
    const result = await sendGraphQL(app, key, 'mutation ($input: TriggerFlowRunInput!) { triggerFlowRun(input: $input) { flowRun { id } } }', {
      input: { flowId, messageThreadId: threadId, state: STATE, initialMessage: {} },
    });
    expect(result.errors).toEqual([
      expect.objectContaining({ message: DETAIL, extensions: { code: 'VALIDATION_FAILED', field: `state.${MEMBER}.__proto__` } }),
    ]);
  });
});
