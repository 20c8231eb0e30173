// Names a plain JavaScript object answers to without having them (`__proto__`, `toString`,
// `constructor`, ...) name nothing on the JSON:API surface: as a path segment, an action,
// a nested list, an include, a sparse fieldset's type or field, a sort key, a filter or an
// attribute, each is refused like any other unknown name, with a code and never a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/http/app.ts';
import { RESOURCES } from '../../src/rest/routes.ts';
import { createTestTenant, databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { call, type CallResult } from './support.ts';

const NAMES = Object.getOwnPropertyNames(Object.prototype);
const ID = '00000000-0000-4000-8000-000000000000';

/** Each answer that is not the refusal expected, as "what → status code": all of them, not just the first. */
class Answers {
  readonly unexpected: string[] = [];
  check(response: CallResult, status: number, code: string, what: string) {
    const codes = (response.json?.errors ?? []).map((error: { code: string }) => error.code).join(',');
    if (response.status !== status || codes !== code) this.unexpected.push(`${what} → ${response.status} ${codes}`);
  }
}

describe.each(databaseTargets())('names of Object.prototype on the JSON:API surface on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  const keys: Record<'read' | 'write', string> = { read: '', write: '' };

  beforeAll(async () => {
    db = await openTestDatabase(target);
    app = createApp({ db });
    keys.read = (await createTestTenant(db, 'read', 'Prototype names (read)')).key;
    keys.write = (await createTestTenant(db, 'write', 'Prototype names (write)')).key;
  });
  afterAll(async () => {
    await db?.close();
  });

  it('has the names under test', () => {
    expect(NAMES).toEqual(expect.arrayContaining(['__proto__', 'toString', 'constructor', 'hasOwnProperty', 'valueOf']));
  });

  it.each(['read', 'write'] as const)('as a path segment: 404 ROUTE_NOT_FOUND for every method (%s key)', async (access) => {
    const answers = new Answers();
    for (const name of NAMES) {
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
        const top = await call(app, method, `/public/v2/${name}`, { key: keys[access] });
        answers.check(top, 404, 'ROUTE_NOT_FOUND', `${method} /public/v2/${name}`);
        for (const resource of RESOURCES) {
          for (const path of resource.paths) {
            for (const url of [`/public/v2/${path}/${ID}/${name}`, `/public/v2/${path}/${ID}/${name}/`, `/public/v2/${path}/${name}/${name}`]) {
              const response = await call(app, method, url, { key: keys[access] });
              answers.check(response, 404, 'ROUTE_NOT_FOUND', `${method} ${url}`);
            }
          }
        }
      }
    }
    expect(answers.unexpected).toEqual([]);
  });

  it.each(['read', 'write'] as const)('as a query parameter name or value: 400 INVALID_QUERY_PARAMETER (%s key)', async (access) => {
    const answers = new Answers();
    for (const resource of RESOURCES) {
      const base = `/public/v2/${resource.paths[0]}`;
      for (const name of NAMES) {
        const encoded = encodeURIComponent(name);
        const listQueries = [
          `include=${encoded}`,
          `fields[${encoded}]=id`,
          `fields[${resource.type}]=${encoded}`,
          `sort=${encoded}`,
          `sort=-${encoded}`,
          `filter[${encoded}]=x`,
          `page[${encoded}]=1`,
          `${encoded}=1`,
        ];
        for (const query of listQueries) {
          const response = await call(app, 'GET', `${base}?${query}`, { key: keys[access] });
          answers.check(response, 400, 'INVALID_QUERY_PARAMETER', `GET ${base}?${query}`);
        }
        for (const query of [`include=${encoded}`, `fields[${encoded}]=id`, `fields[${resource.type}]=${encoded}`]) {
          const one = await call(app, 'GET', `${base}/${ID}?${query}`, { key: keys[access] });
          answers.check(one, 400, 'INVALID_QUERY_PARAMETER', `GET ${base}/${ID}?${query}`);
        }
      }
    }
    expect(answers.unexpected).toEqual([]);
  });

  it('with query parameters on POST (create and action) and on a nested list: 400 INVALID_QUERY_PARAMETER', async () => {
    const answers = new Answers();
    for (const name of NAMES) {
      const encoded = encodeURIComponent(name);
      for (const resource of RESOURCES) {
        const base = `/public/v2/${resource.paths[0]}`;
        for (const query of [`include=${encoded}`, `fields[${encoded}]=id`, `fields[${resource.type}]=${encoded}`, `${encoded}=1`]) {
          for (const access of ['read', 'write'] as const) {
            const created = await call(app, 'POST', `${base}?${query}`, {
              key: keys[access],
              body: { data: { type: resource.type, attributes: {} } },
            });
            answers.check(created, 400, 'INVALID_QUERY_PARAMETER', `POST ${base}?${query} (${access})`);
            for (const action of resource.actionPayloads.keys()) {
              const acted = await call(app, 'POST', `${base}/${ID}/${action}?${query}`, { key: keys[access] });
              answers.check(acted, 400, 'INVALID_QUERY_PARAMETER', `POST ${base}/${ID}/${action}?${query} (${access})`);
            }
            for (const list of resource.nestedListDefinitions.keys()) {
              const listed = await call(app, 'GET', `${base}/${ID}/${list}?${query}`, { key: keys[access] });
              answers.check(listed, 400, 'INVALID_QUERY_PARAMETER', `GET ${base}/${ID}/${list}?${query} (${access})`);
            }
          }
        }
      }
    }
    expect(answers.unexpected).toEqual([]);
  });

  it('as a value where the API expects one of its own names (an event, a channel, a message type) or a member of a JSON attribute: never a 500', async () => {
    const write = (method: string, url: string, body: unknown) => call(app, method, url, { key: keys.write, body });
    const flow = await write('POST', '/public/v2/flows', { data: { type: 'flows', attributes: { name: 'Prototype names' } } });
    const answers = new Answers();
    for (const name of NAMES) {
      const member = JSON.parse(`{${JSON.stringify(name)}: 1}`);
      const endpoint = await write('POST', '/public/v2/webhook-endpoints', {
        data: { type: 'webhookEndpoints', attributes: { url: 'https://example.com/hook', events: [name] } },
      });
      answers.check(endpoint, 400, 'VALIDATION_FAILED', `webhook endpoint events [${name}]`);
      const thread = await write('POST', '/public/v2/message-threads', {
        data: { type: 'messageThreads', attributes: { channel: name, identifier: 'x' } },
      });
      answers.check(thread, 400, 'VALIDATION_FAILED', `message thread channel ${name}`);
      const web = await write('POST', '/public/v2/message-threads', {
        data: { type: 'messageThreads', attributes: { channel: 'web', identifier: `prototype-${NAMES.indexOf(name)}` } },
      });
      expect(web.status, web.text).toBe(201);
      const run = (attributes: Record<string, unknown>) =>
        write('POST', '/public/v2/flow-runs', {
          data: {
            type: 'flowRuns',
            attributes: { flowId: flow.json.data.id, messageThreadId: web.json.data.id, state: {}, initialMessage: {}, ...attributes },
          },
        });
      answers.check(await run({ initialMessage: { type: name, text: 'hi' } }), 400, 'VALIDATION_FAILED', `initialMessage type ${name}`);
      // Members of the free-form state and of a message are the client's to name: taken
      // and kept, but for __proto__, which every copy on the way would drop: refused.
      const message = JSON.parse(`{${JSON.stringify(name)}: 1, "type": "text", "text": "hi"}`);
      for (const attributes of [{ state: member }, { initialMessage: message }]) {
        const stored = await run(attributes);
        if (name === '__proto__') {
          answers.check(stored, 400, 'VALIDATION_FAILED', `a member ${name} in ${Object.keys(attributes)[0]}`);
          continue;
        }
        expect(stored.status, `a member ${name}: ${stored.text}`).toBe(201);
        const read = await call(app, 'GET', `/public/v2/flow-runs/${stored.json.data.id}`, { key: keys.write });
        const kept = read.json.data.attributes.state ?? {};
        if ('state' in attributes) expect(Object.hasOwn(kept, name), `state member ${name} kept: ${read.text}`).toBe(true);
      }
    }
    expect(answers.unexpected).toEqual([]);
  });

  it('as an attribute or a document member on POST and PATCH: 400 VALIDATION_FAILED', async () => {
    const answers = new Answers();
    for (const resource of RESOURCES) {
      const base = `/public/v2/${resource.paths[0]}`;
      for (const name of NAMES) {
        // JSON.parse makes "__proto__" an own member, as a client's document has it.
        const attributes = JSON.parse(`{${JSON.stringify(name)}: 1}`);
        const documents = [
          { data: { type: resource.type, attributes } },
          JSON.parse(`{"data": {"type": ${JSON.stringify(resource.type)}, ${JSON.stringify(name)}: 1}}`),
          JSON.parse(`{"data": {"type": ${JSON.stringify(resource.type)}}, ${JSON.stringify(name)}: 1}`),
        ];
        for (const document of documents) {
          const created = await call(app, 'POST', base, { key: keys.write, body: document });
          answers.check(created, 400, 'VALIDATION_FAILED', `POST ${base} ${JSON.stringify(document)}`);
          const patched = await call(app, 'PATCH', `${base}/${ID}`, { key: keys.write, body: { ...document, data: { ...document.data, id: ID } } });
          answers.check(patched, 400, 'VALIDATION_FAILED', `PATCH ${base}/${ID} ${JSON.stringify(document)}`);
        }
      }
    }
    expect(answers.unexpected).toEqual([]);
  });
});
