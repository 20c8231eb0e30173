// The README's curl examples (section "REST (JSON:API) examples"), run against the demo
// data through app.fetch: each curl command is parsed (URL, -X, -H, a heredoc body), its
// $KEY/$FLOW_ID/$THREAD_ID/$RUN_ID filled in, and its answer must be 2xx and valid JSON:API.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedDemoIfEmpty } from '../../src/demo-data.ts';
import { createApp, type App } from '../../src/http/app.ts';
import { openTestDatabase, type TestDatabase } from '../support/database.ts';
import { assertJsonApi } from './support.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.split(/^## /m).find((part) => part.startsWith('REST (JSON:API) examples')) ?? '';
const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]);

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
    const c = command[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '$' && quote === '"') i = expand(command, i, variables, (value) => (current += value));
      else current += c;
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
  if (!(name in variables)) throw new Error(`README example uses $${name}, which the test does not know`);
  append(variables[name]);
  return at + name.length;
}

/** The curl commands of one ```sh block (continuation lines joined; a heredoc is the body). */
function curls(block: string, variables: Record<string, string>): Curl[] {
  const lines = block.split('\n');
  const commands: Curl[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim() || lines[i].trim().startsWith('#')) continue;
    let line = lines[i];
    while (line.endsWith('\\')) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
    const heredoc = /\s<<(\w+)$/.exec(line);
    let body: string | undefined;
    if (heredoc) {
      line = line.slice(0, heredoc.index);
      const end = lines.indexOf(heredoc[1], i + 1);
      expect(end, `heredoc ${heredoc[1]} is closed`).toBeGreaterThan(i);
      body = lines
        .slice(i + 1, end)
        .join('\n')
        .replace(/\$([A-Z_][A-Z0-9_]*)/g, (_m, name: string) => {
          if (!(name in variables)) throw new Error(`README example uses $${name}, which the test does not know`);
          return variables[name];
        });
      i = end;
    }
    const [program, ...args] = words(line, variables);
    expect(program).toBe('curl');
    const curl: Curl = { method: 'GET', url: '', headers: {} };
    for (let a = 0; a < args.length; a++) {
      const arg = args[a];
      if (arg === '-X' || arg === '--request') curl.method = args[++a];
      else if (arg === '-H' || arg === '--header') {
        const [name, ...value] = args[++a].split(':');
        curl.headers[name.trim()] = value.join(':').trim();
      } else if (arg === '--data-binary' || arg === '-d' || arg === '--data') {
        const data = args[++a];
        curl.body = data === '@-' ? body : data;
        if (curl.method === 'GET') curl.method = 'POST';
      } else if (/^-[sgSLv]+$/.test(arg)) continue;
      else if (/^https?:\/\//.test(arg)) curl.url = arg;
      else throw new Error(`README curl: unsupported argument ${arg}`);
    }
    commands.push(curl);
  }
  return commands;
}

let db: TestDatabase;
let app: App;
const variables: Record<string, string> = {};

beforeAll(async () => {
  db = await openTestDatabase({ name: 'embedded' });
  variables.KEY = (await seedDemoIfEmpty(db))!;
  app = createApp({ db });
  // A thread whose runs have all ended, so that the triggered run starts running.
  const thread = await db.prisma.messageThread.findFirstOrThrow({ where: { flowRuns: { none: { status: { in: ['running', 'queued'] } } } } });
  const flow = await db.prisma.flow.findFirstOrThrow();
  variables.FLOW_ID = flow.id;
  variables.THREAD_ID = thread.id;
});
afterAll(() => db.close());

async function run(curl: Curl) {
  const url = new URL(curl.url);
  expect(url.origin).toBe('http://localhost:4000');
  const response = await app.fetch(new Request(curl.url, { method: curl.method, headers: curl.headers, body: curl.body }));
  const text = await response.text();
  return { response, text, json: text ? JSON.parse(text) : undefined };
}

it('has curl examples for list, trigger, get, patch, delete and the OpenAPI document', () => {
  const all = blocks.flatMap((block) => curls(block, { KEY: 'k', FLOW_ID: 'f', THREAD_ID: 't', RUN_ID: 'r' }));
  expect(all.map((curl) => `${curl.method} ${new URL(curl.url).pathname}`)).toEqual([
    'GET /public/v2/flow-runs',
    'POST /public/v2/flow-runs',
    'GET /public/v2/flow-runs/r',
    'PATCH /public/v2/flow-runs/r',
    'DELETE /public/v2/flow-runs/r',
    'GET /public/v2/openapi.json',
  ]);
});

it('every README curl example answers 2xx with a valid JSON:API document, in order', async () => {
  let triggered: { id: string; request: Curl } | undefined;
  for (const block of blocks) {
    // $RUN_ID is known once the trigger example has answered (the README says so).
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
      if (curl.method === 'GET' && pathname === '/public/v2/flow-runs') {
        expect(json.included.length).toBeGreaterThan(0);
      }
      if (curl.method === 'POST') {
        expect(response.status).toBe(201);
        expect(json.data.attributes).toMatchObject({ flowId: variables.FLOW_ID, status: 'running', state: { first_name: 'Henk' } });
        triggered = { id: json.data.id, request: curl };
        // What the README promises of a retry with the same Idempotency-Key.
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
