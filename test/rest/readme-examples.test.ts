// The curl examples of docs/REST.md (section "REST (JSON:API) examples"), run against the demo
// data through app.fetch: each curl command is parsed (URL, -X, -H, a heredoc body), its
// $KEY/$FLOW_ID/$THREAD_ID/$RUN_ID filled in, and its answer must be 2xx and valid JSON:API.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoIfEmpty } from '../../src/demo-data.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { databaseTargets, openTestDatabase, type TestDatabase } from '../support/database.ts';
import { assertJsonApi } from './support.ts';
import { at, defined, only } from '../support/items.ts';

const restDoc = readFileSync(new URL('../../docs/REST.md', import.meta.url), 'utf8');
const section = restDoc.split(/^## /m).find((part) => part.startsWith('REST (JSON:API) examples')) ?? '';
const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => at(match, 1));
// The README's first REST request (its other shell blocks are not curl commands: npm, export).
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const firstRequests = (readme.split(/^## /m).find((part) => part.startsWith('First requests')) ?? '')
  .split(/```sh\n/)
  .slice(1)
  .map((block) => block.slice(0, block.indexOf('```')))
  .filter((block) => block.trimStart().startsWith('curl'));

interface Curl {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Splits a shell command into words: single quotes literal, $NAME expanded elsewhere. */
function words(command: string, variables: Record<string, string>): string[] {
  const result: string[] = [];
  let current: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command.charAt(i);
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '$' && quote === '"') i = expand(command, i, variables, (value) => (current += value));
      else current = (current ?? '') + c;
    } else if (c === "'" || c === '"') {
      quote = c;
      current ??= '';
    } else if (/\s/.test(c)) {
      if (current !== undefined) result.push(current);
      current = undefined;
    } else if (c === '$') {
      current ??= '';
      i = expand(command, i, variables, (value) => (current += value));
    } else current = (current ?? '') + c;
  }
  if (quote) throw new Error(`unterminated quote in: ${command}`);
  if (current !== undefined) result.push(current);
  return result;
}

function expand(text: string, at: number, variables: Record<string, string>, append: (value: string) => void): number {
  const name = /^\$([A-Z_][A-Z0-9_]*)/.exec(text.slice(at))?.[1];
  if (!name) throw new Error(`unexpected $ in: ${text}`);
  append(known(variables, name));
  return at + name.length;
}

/** The value of a $NAME the example uses; throws when the test does not know it. */
function known(variables: Record<string, string>, name: string): string {
  const value = variables[name];
  if (value === undefined) throw new Error(`example uses $${name}, which the test does not know`);
  return value;
}

/** The curl commands of one ```sh block (continuation lines joined; a heredoc is the body). */
function curls(block: string, variables: Record<string, string>): Curl[] {
  const lines = block.split('\n');
  const commands: Curl[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = at(lines, i);
    if (!line.trim() || line.trim().startsWith('#')) continue;
    while (line.endsWith('\\')) line = `${line.slice(0, -1)} ${at(lines, ++i, 'continuation line').trim()}`;
    const heredoc = /\s<<(\w+)$/.exec(line);
    let body: string | undefined;
    if (heredoc) {
      line = line.slice(0, heredoc.index);
      const marker = at(heredoc, 1);
      const end = lines.indexOf(marker, i + 1);
      expect(end, `heredoc ${marker} is closed`).toBeGreaterThan(i);
      body = lines
        .slice(i + 1, end)
        .join('\n')
        .replace(/\$([A-Z_][A-Z0-9_]*)/g, (_m, name: string) => known(variables, name));
      i = end;
    }
    const [program, ...args] = words(line, variables);
    expect(program).toBe('curl');
    const curl: Curl = { method: 'GET', url: '', headers: {} };
    for (let a = 0; a < args.length; a++) {
      const arg = at(args, a);
      const value = () => at(args, ++a, `value of ${arg}`);
      if (arg === '-X' || arg === '--request') curl.method = value();
      else if (arg === '-H' || arg === '--header') {
        const [name, ...rest] = value().split(':');
        curl.headers[defined(name, `header name in ${arg}`).trim()] = rest.join(':').trim();
      } else if (arg === '--data-binary' || arg === '-d' || arg === '--data') {
        const data = value();
        curl.body = data === '@-' ? body : data;
        if (curl.method === 'GET') curl.method = 'POST';
      } else if (/^-[sgSLv]+$/.test(arg)) continue;
      else if (/^https?:\/\//.test(arg)) curl.url = arg;
      else throw new Error(`curl example: unsupported argument ${arg}`);
    }
    commands.push(curl);
  }
  return commands;
}

describe.each(databaseTargets())('on $name', (target) => {
  let db: TestDatabase;
  let app: App;
  const variables: Record<string, string> = {};

  beforeAll(async () => {
    db = await openTestDatabase(target);
    variables.KEY = (await seedDemoIfEmpty(db))!;
    app = createApp({ db });
    // FLOW_ID and THREAD_ID come from the document's own find-or-create examples.
  });
  afterAll(() => db.close());

  async function run(curl: Curl) {
    const url = new URL(curl.url);
    expect(url.origin).toBe('http://localhost:4000');
    const response = await app.fetch(new Request(curl.url, { method: curl.method, headers: curl.headers, body: curl.body }));
    const text = await response.text();
    return { response, text, json: text ? JSON.parse(text) : undefined };
  }

  it('has curl examples for list, find-or-create, trigger, get, patch, delete, polling and the OpenAPI document', () => {
    const all = blocks.flatMap((block) => curls(block, { KEY: 'k', FLOW_ID: 'f', THREAD_ID: 't', RUN_ID: 'r' }));
    expect(all.map((curl) => `${curl.method} ${new URL(curl.url).pathname}`)).toEqual([
      'GET /public/v2/flow-runs',
      'GET /public/v2/flows',
      'GET /public/v2/message-threads',
      'POST /public/v2/message-threads',
      'POST /public/v2/flow-runs',
      'GET /public/v2/flow-runs/r',
      'PATCH /public/v2/flow-runs/r',
      'DELETE /public/v2/flow-runs/r',
      'GET /public/v2/flow-runs',
      'GET /public/v2/openapi.json',
    ]);
  });

  it('every docs/REST.md curl example answers 2xx with a valid JSON:API document, in order', async () => {
    let triggered: { id: string; request: Curl } | undefined;
    for (const block of blocks) {
      // $RUN_ID is known once the trigger example has answered (the document says so).
      for (const curl of curls(block, { ...variables, RUN_ID: triggered?.id ?? '$RUN_ID' })) {
        const { response, text, json } = await run(curl);
        const what = `${curl.method} ${curl.url} → ${response.status}: ${text.slice(0, 300)}`;
        expect(response.status, what).toBeGreaterThanOrEqual(200);
        expect(response.status, what).toBeLessThan(300);
        const { pathname } = new URL(curl.url);
        if (pathname === '/public/v2/openapi.json') {
          expect(json.openapi).toBe('3.1.0');
          continue;
        }
        if (response.status !== 204) {
          expect(response.headers.get('content-type')).toBe('application/vnd.api+json');
          assertJsonApi(json, what);
        }
        if (curl.method === 'GET' && pathname === '/public/v2/flow-runs' && curl.url.includes('include=')) {
          expect(json.included.length).toBeGreaterThan(0);
        }
        if (curl.method === 'GET' && pathname === '/public/v2/flow-runs' && curl.url.includes('filter[updatedSince]')) {
          // Every run, oldest change first (the demo data is newer than the time asked from).
          const times = json.data.map((run: { attributes: { updatedAt: string } }) => run.attributes.updatedAt);
          expect(times.length).toBeGreaterThan(0);
          expect([...times].sort()).toEqual(times);
        }
        // Find or create, as docs/REST.md tells: the flow by name, the thread by channel and identifier.
        if (curl.method === 'GET' && pathname === '/public/v2/flows') {
          expect(json.data.map((flow: { attributes: { name: string } }) => flow.attributes.name)).toEqual(['Screening']);
          variables.FLOW_ID = json.data[0].id;
        }
        if (curl.method === 'GET' && pathname === '/public/v2/message-threads') {
          expect(json.data).toEqual([]);
        }
        if (curl.method === 'POST' && pathname === '/public/v2/message-threads') {
          expect(response.status).toBe(201);
          variables.THREAD_ID = json.data.id;
          // What docs/REST.md promises of a second POST: a 409 naming the thread.
          const again = await run(curl);
          expect(again.response.status).toBe(409);
          expect(again.json.errors[0]).toMatchObject({ code: 'THREAD_ALREADY_EXISTS', meta: { existingId: json.data.id } });
          // And the lookup now finds it.
          const lookup = blocks
            .flatMap((b) => curls(b, { ...variables, RUN_ID: 'r' }))
            .find((c) => new URL(c.url).pathname === pathname && c.method === 'GET')!;
          expect((await run(lookup)).json.data.map((thread: { id: string }) => thread.id)).toEqual([json.data.id]);
        }
        if (curl.method === 'POST' && pathname === '/public/v2/flow-runs') {
          expect(response.status).toBe(201);
          expect(json.data.attributes).toMatchObject({ flowId: variables.FLOW_ID, status: 'running', state: { first_name: 'Henk' } });
          triggered = { id: json.data.id, request: curl };
          // What docs/REST.md promises of a retry with the same Idempotency-Key.
          const retry = await run(curl);
          expect(retry.response.status).toBe(201);
          expect(retry.response.headers.get('Idempotent-Replayed')).toBe('true');
          expect(retry.json.data.id).toBe(json.data.id);
        }
        if (curl.method === 'PATCH') expect(json.data.attributes.status).toBe('finished');
        if (curl.method === 'DELETE') expect(response.status).toBe(204);
      }
    }
    expect(triggered).toBeDefined();
  });

  it("the README's first REST request answers 2xx with a valid JSON:API document holding runs", async () => {
    const commands = firstRequests.flatMap((block) => curls(block, variables));
    expect(commands).toHaveLength(1);
    const { response, text, json } = await run(only(commands));
    expect(response.status, text.slice(0, 300)).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.api+json');
    assertJsonApi(json, text.slice(0, 300));
    expect(json.data.length).toBeGreaterThan(0);
  });
});
