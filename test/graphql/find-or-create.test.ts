// Find or create over GraphQL: messageThreads(filter: { channel, identifier }),
// flows(filter: { name }), and the existing thread's id in the THREAD_ALREADY_EXISTS
// error's extensions — also for the loser of two concurrent creates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { uniqueIdentifier } from '../support/fixtures.ts';
import { sendGraphQL } from '../support/graphql.ts';
import { only } from '../support/items.ts';

interface Threads {
  messageThreads: { totalCount: number; edges: { node: { id: string; channel: string; identifier: string } }[] };
}

const FIND_THREAD = `query ($channel: Channel, $identifier: String) {
  messageThreads(filter: { channel: $channel, identifier: $identifier }) {
    totalCount edges { node { id channel identifier } }
  }
}`;
const CREATE_THREAD = `mutation ($channel: Channel!, $identifier: String!) {
  createMessageThread(input: { channel: $channel, identifier: $identifier }) { messageThread { id } }
}`;

describe.each(databaseTargets())('find or create over GraphQL on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let counter = 0;

  const find = (variables: { channel?: string; identifier?: string }) => sendGraphQL<Threads, unknown>(app, key, FIND_THREAD, variables);
  const create = (channel: string, identifier: string) =>
    sendGraphQL<{ createMessageThread: { messageThread: { id: string } } }, unknown>(app, key, CREATE_THREAD, { channel, identifier });

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db)).key;
  });
  afterAll(() => db.close());

  it('messageThreads(filter) finds the thread of a channel and identifier', async () => {
    const number = uniqueIdentifier('whatsapp');
    const id = (await create('whatsapp', number)).data!.createMessageThread.messageThread.id;
    await create('sms', number);
    const found = await find({ channel: 'whatsapp', identifier: number });
    expect(found.errors).toBeUndefined();
    expect(found.data!.messageThreads).toEqual({ totalCount: 1, edges: [{ node: { id, channel: 'whatsapp', identifier: number } }] });
    expect((await find({ identifier: number })).data!.messageThreads.totalCount).toBe(2);
    expect((await find({ channel: 'whatsapp', identifier: uniqueIdentifier('whatsapp') })).data!.messageThreads).toEqual({
      totalCount: 0,
      edges: [],
    });
  });

  it('a create of a thread that exists names it in extensions.existingId', async () => {
    const number = uniqueIdentifier('whatsapp');
    const id = (await create('whatsapp', number)).data!.createMessageThread.messageThread.id;
    const again = await create('whatsapp', number);
    expect(again.errors).toEqual([
      expect.objectContaining({
        message: 'a message thread with this channel and identifier already exists',
        extensions: { code: 'THREAD_ALREADY_EXISTS', field: 'identifier', existingId: id },
      }),
    ]);
  });

  it('two concurrent creates of one new thread: one wins, the other is told the winner’s id', async () => {
    for (let round = 0; round < 5; round++) {
      const number = uniqueIdentifier('whatsapp');
      const answers = await Promise.all([create('whatsapp', number), create('whatsapp', number)]);
      const won = answers.filter((answer) => !answer.errors);
      const lost = answers.filter((answer) => answer.errors);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.errors?.[0]?.extensions).toMatchObject({
        code: 'THREAD_ALREADY_EXISTS',
        existingId: only(won).data!.createMessageThread.messageThread.id,
      });
    }
  });

  it('asked with errors, the create answers a ThreadAlreadyExistsError carrying existingId, also to the loser of a race', async () => {
    const createOrName = (identifier: string) =>
      sendGraphQL<{ createMessageThread: { messageThread: { id: string } | null; errors: { __typename: string; existingId?: string }[] } }, unknown>(
        app,
        key,
        `mutation ($identifier: String!) {
          createMessageThread(input: { channel: whatsapp, identifier: $identifier }) {
            messageThread { id }
            errors { __typename ... on ThreadAlreadyExistsError { code existingId } }
          }
        }`,
        { identifier },
      );
    for (let round = 0; round < 5; round++) {
      const number = uniqueIdentifier('whatsapp');
      const answers = await Promise.all([createOrName(number), createOrName(number)]);
      for (const answer of answers) expect(answer.errors).toBeUndefined();
      const payloads = answers.map((answer) => answer.data!.createMessageThread);
      const won = payloads.filter((payload) => payload.messageThread);
      const lost = payloads.filter((payload) => !payload.messageThread);
      expect(won).toHaveLength(1);
      expect(won[0]?.errors).toEqual([]);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.errors).toEqual([
        { __typename: 'ThreadAlreadyExistsError', code: 'THREAD_ALREADY_EXISTS', existingId: only(won).messageThread!.id },
      ]);
    }
  });

  it('flows(filter: { name }) finds flows by exact name', async () => {
    const name = `Intake ${++counter}`;
    const created = await sendGraphQL<{ createFlow: { flow: { id: string } } }, unknown>(
      app,
      key,
      'mutation ($name: String!) { createFlow(input: { name: $name }) { flow { id } } }',
      { name },
    );
    const query = 'query ($name: String) { flows(filter: { name: $name }) { totalCount edges { node { id name } } } }';
    const found = await sendGraphQL<{ flows: { totalCount: number; edges: { node: { id: string } }[] } }, unknown>(app, key, query, {
      name,
    });
    expect(found.data!.flows.edges.map((edge) => edge.node.id)).toEqual([created.data!.createFlow.flow.id]);
    expect(found.data!.flows.totalCount).toBe(1);
    const none = await sendGraphQL<{ flows: { totalCount: number } }, unknown>(app, key, query, { name: 'Intake' });
    expect(none.data!.flows.totalCount).toBe(0);
  });

  it.each([
    [{ identifier: '' }, 'filter.identifier', 'filter.identifier: must not be empty'],
    [{ channel: 'email', identifier: 'not-an-address' }, 'filter.identifier', 'filter.identifier: must be an email address'],
  ])('messageThreads(filter: %j) is VALIDATION_FAILED on %s', async (variables, field, message) => {
    const response = await find(variables);
    expect(response.errors).toEqual([expect.objectContaining({ message, extensions: { code: 'VALIDATION_FAILED', field } })]);
  });

  it('flows(filter: { name: "" }) is VALIDATION_FAILED on filter.name', async () => {
    const response = await sendGraphQL(app, key, '{ flows(filter: { name: " " }) { totalCount } }');
    expect(response.errors).toEqual([
      expect.objectContaining({ message: 'filter.name: must not be empty', extensions: { code: 'VALIDATION_FAILED', field: 'filter.name' } }),
    ]);
  });

  it('an unknown channel or filter member is refused by GraphQL validation, nothing executed', async () => {
    const channel = await sendGraphQL(app, key, '{ messageThreads(filter: { channel: telegram }) { totalCount } }');
    expect(channel.data).toBeUndefined();
    expect(channel.errors?.[0]?.message).toMatch(/telegram/);
    const member = await sendGraphQL(app, key, '{ messageThreads(filter: { phone: "31612345678" }) { totalCount } }');
    expect(member.data).toBeUndefined();
    expect(member.errors?.[0]?.message).toMatch(/phone/);
  });
});
