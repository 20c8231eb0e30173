// What an integration does first, over JSON:API: find the thread of a phone number (or the
// flow of a name), create it when absent, and when a POST finds it taken (409
// THREAD_ALREADY_EXISTS) use the thread the error names. Two POSTs of one new thread at
// once: one creates it, the other is told its id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { uniqueIdentifier } from '../support/fixtures.ts';
import { call, type CallOptions } from './support.ts';

describe.each(databaseTargets())('find or create over JSON:API on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  let key: string;
  let otherKey: string;
  let counter = 0;

  const request = (method: string, url: string, options: CallOptions = {}) => call(app, method, url, { key, ...options });
  const threadBody = (channel: string, identifier: string) => ({
    data: { type: 'messageThreads', attributes: { channel, identifier } },
  });
  const postThread = (channel: string, identifier: string, as = key) =>
    call(app, 'POST', '/public/v2/message-threads', { key: as, body: threadBody(channel, identifier) });
  const findThreads = (query: string, as = key) => call(app, 'GET', `/public/v2/message-threads?${query}`, { key: as });

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    key = (await createTestTenant(db, 'write', 'Finder')).key;
    otherKey = (await createTestTenant(db, 'write', 'Other')).key;
  });
  afterAll(() => db.close());

  it('finds a thread by channel and identifier, and only that one, in the caller’s organization', async () => {
    const number = uniqueIdentifier('whatsapp');
    const whatsapp = (await postThread('whatsapp', number)).json.data.id;
    await postThread('sms', number);
    await postThread('whatsapp', number, otherKey);
    await postThread('whatsapp', uniqueIdentifier('whatsapp'));

    const found = await findThreads(`filter[channel]=whatsapp&filter[identifier]=${number}`);
    expect(found.status).toBe(200);
    expect(found.json.data.map((thread: { id: string }) => thread.id)).toEqual([whatsapp]);
    expect(found.json.meta.total).toBe(1);
    // Links keep the filter.
    expect(found.json.links.self).toContain(`filter[identifier]=${number}`);

    // The identifier alone finds it on every channel; the channel alone lists that channel.
    expect((await findThreads(`filter[identifier]=${number}`)).json.meta.total).toBe(2);
    const sms = await findThreads('filter[channel]=sms');
    expect(sms.json.data.every((thread: { attributes: { channel: string } }) => thread.attributes.channel === 'sms')).toBe(true);

    // Absent: an empty page, not an error.
    const absent = await findThreads(`filter[channel]=whatsapp&filter[identifier]=${uniqueIdentifier('whatsapp')}`);
    expect(absent.status).toBe(200);
    expect(absent.json.data).toEqual([]);
  });

  it('a POST of a thread that exists is a 409 naming it in meta.existingId', async () => {
    const number = uniqueIdentifier('whatsapp');
    const created = await postThread('whatsapp', number);
    expect(created.status).toBe(201);
    const again = await postThread('whatsapp', number);
    expect(again.status).toBe(409);
    expect(again.json.errors).toEqual([
      {
        status: '409',
        code: 'THREAD_ALREADY_EXISTS',
        title: 'Conflict',
        detail: 'a message thread with this channel and identifier already exists',
        source: { pointer: '/data/attributes/identifier' },
        meta: { existingId: created.json.data.id },
      },
    ]);
  });

  it('a PATCH into a (channel, identifier) another thread holds is a 409 naming that thread', async () => {
    const number = uniqueIdentifier('whatsapp');
    const holder = (await postThread('whatsapp', number)).json.data.id;
    const other = (await postThread('whatsapp', uniqueIdentifier('whatsapp'))).json.data.id;
    const patched = await request('PATCH', `/public/v2/message-threads/${other}`, {
      body: { data: { type: 'messageThreads', id: other, attributes: { identifier: number } } },
    });
    expect(patched.status).toBe(409);
    expect(patched.json.errors[0]).toMatchObject({ code: 'THREAD_ALREADY_EXISTS', meta: { existingId: holder } });
  });

  it('two concurrent POSTs of one new thread: one 201, one 409 naming the winner', async () => {
    for (let round = 0; round < 5; round++) {
      const number = uniqueIdentifier('whatsapp');
      const answers = await Promise.all([postThread('whatsapp', number), postThread('whatsapp', number)]);
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses).toEqual([201, 409]);
      const winner = answers.find((answer) => answer.status === 201)!;
      const loser = answers.find((answer) => answer.status === 409)!;
      expect(loser.json.errors[0].meta).toEqual({ existingId: winner.json.data.id });
      expect((await findThreads(`filter[channel]=whatsapp&filter[identifier]=${number}`)).json.data).toHaveLength(1);
    }
  });

  it('finds flows by exact name', async () => {
    const name = `Screening ${++counter}`;
    const created = await request('POST', '/public/v2/flows', { body: { data: { type: 'flows', attributes: { name } } } });
    await request('POST', '/public/v2/flows', { body: { data: { type: 'flows', attributes: { name: `${name} (copy)` } } } });
    const found = await request('GET', `/public/v2/flows?filter[name]=${encodeURIComponent(name)}`);
    expect(found.status).toBe(200);
    expect(found.json.data.map((flow: { id: string }) => flow.id)).toEqual([created.json.data.id]);
    // Not a prefix or a case-insensitive match.
    expect((await request('GET', `/public/v2/flows?filter[name]=Screening`)).json.data).toEqual([]);
    expect((await request('GET', `/public/v2/flows?filter[name]=${encodeURIComponent(name.toUpperCase())}`)).json.data).toEqual([]);
  });

  it.each([
    ['filter[channel]=telegram', 'filter[channel]', 'filter[channel]: must be one of whatsapp, sms, email, web'],
    ['filter[channel]=', 'filter[channel]', 'filter[channel]: must be one of whatsapp, sms, email, web'],
    ['filter[identifier]=', 'filter[identifier]', 'filter[identifier]: must not be empty'],
    [
      'filter[channel]=whatsapp&filter[identifier]=%2B31612345678',
      'filter[identifier]',
      'filter[identifier]: must be the digits of an E.164 number without "+", e.g. 31652071191',
    ],
    ['filter[phone]=31612345678', 'filter[phone]', 'unknown filter "filter[phone]" for messageThreads'],
  ])('GET /message-threads?%s is a 400 naming %s', async (query, parameter, detail) => {
    const response = await findThreads(query);
    expect(response.status).toBe(400);
    expect(response.json.errors).toEqual([
      { status: '400', code: 'INVALID_QUERY_PARAMETER', title: 'Invalid Request', source: { parameter }, detail },
    ]);
  });

  it.each([
    ['filter[name]=', 'filter[name]', 'filter[name]: must not be empty'],
    ['filter[name]=%20%20', 'filter[name]', 'filter[name]: must not be empty'],
    ['filter[title]=x', 'filter[title]', 'unknown filter "filter[title]" for flows'],
  ])('GET /flows?%s is a 400 naming %s', async (query, parameter, detail) => {
    const response = await request('GET', `/public/v2/flows?${query}`);
    expect(response.status).toBe(400);
    expect(response.json.errors).toEqual([
      { status: '400', code: 'INVALID_QUERY_PARAMETER', title: 'Invalid Request', source: { parameter }, detail },
    ]);
  });
});
