// Helpers of the guard-rail tests: raw requests through `app.fetch`, fixtures made over
// the public REST surface (its contract is stable, whatever the domain functions look
// like), checks that an error body is an error document of its surface and leaks
// nothing, and a snapshot of every table to prove that rejected requests wrote nothing.
import type { App } from '../../src/http/app.ts';
import type { ClientConnection } from '../../src/request/client-connection.ts';
import type { Database } from '../../src/database/client.ts';

export const JSON_API = 'application/vnd.api+json';

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** A client on this machine, as /metrics without a token requires. */
export const LOCAL_CLIENT: ClientConnection = { remoteAddress: '127.0.0.1' };

export async function send(app: App, request: RawRequest, connection?: ClientConnection): Promise<RawResponse> {
  const response = await app.fetch(
    new Request(`http://test${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body as BodyInit | undefined,
    }),
    connection,
  );
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Sends a JSON:API document (or any value, serialized) with the JSON:API media type. */
export function rest(app: App, method: string, path: string, key: string | undefined, body?: unknown) {
  return send(app, {
    method,
    path,
    headers: { ...(key && { Authorization: key }), ...(body !== undefined && { 'Content-Type': JSON_API }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export function graphqlRequest(app: App, key: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return send(app, {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', ...(key && { authorization: key }), ...headers },
    body: JSON.stringify(body),
  });
}

export interface Fixture {
  flowId: string;
  webThreadId: string;
  whatsappThreadId: string;
  /** The running run of the web thread, and one queued behind it. */
  runningRunId: string;
  queuedRunId: string;
}

/** A flow, a web and a whatsapp thread, a running and a queued run, made over REST. */
export async function createFixture(app: App, key: string, label = 'guard'): Promise<Fixture> {
  const created = async (path: string, type: string, attributes: Record<string, unknown>) => {
    const response = await rest(app, 'POST', path, key, { data: { type, attributes } });
    if (response.status !== 201) throw new Error(`fixture POST ${path}: ${response.status} ${response.text}`);
    return (response.json as { data: { id: string } }).data.id;
  };
  const flowId = await created('/public/v2/flows', 'flows', { name: `${label} flow` });
  const webThreadId = await created('/public/v2/message-threads', 'messageThreads', { channel: 'web', identifier: `${label}-web` });
  const whatsappThreadId = await created('/public/v2/message-threads', 'messageThreads', {
    channel: 'whatsapp',
    identifier: '31652071191',
  });
  const run = { flowId, messageThreadId: webThreadId, state: { step: 1 }, initialMessage: {} };
  const runningRunId = await created('/public/v2/flow-runs', 'flowRuns', run);
  const queuedRunId = await created('/public/v2/flow-runs', 'flowRuns', run);
  return { flowId, webThreadId, whatsappThreadId, runningRunId, queuedRunId };
}

// What must never reach a client: stack frames, file paths, dependency paths.
const LEAKS: [string, RegExp][] = [
  ['stack frame', /at .*\(.*:\d+:\d+\)/],
  ['stack frame', /\\n\s+at \S/],
  ['file path', /\/work\//],
  ['file path', /node_modules/],
  ['source location', /\.[cm]?[tj]s:\d+/],
  ['SQL', /\b(SELECT|INSERT INTO|UPDATE) .*"(FlowRun|Flow|MessageThread|ApiKey|Organization)"/],
  ['driver internals', /Prisma|PrismaClient|pglite|node-postgres/i],
];

export function leaksIn(text: string): string[] {
  return LEAKS.filter(([, pattern]) => pattern.test(text)).map(([what]) => what);
}

type Problems = string[];

/** A JSON:API error document: `errors` of objects with status, code, title and detail. */
export function restErrorProblems(response: RawResponse): Problems {
  const problems: Problems = [];
  const type = response.headers.get('content-type');
  if (type !== JSON_API) problems.push(`content-type ${type}`);
  const errors = (response.json as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    problems.push(`not a JSON:API error document: ${response.text.slice(0, 200)}`);
    return problems;
  }
  for (const error of errors as Record<string, unknown>[]) {
    for (const member of ['status', 'code', 'title', 'detail']) {
      if (typeof error?.[member] !== 'string' || !error[member]) problems.push(`error object without "${member}"`);
    }
  }
  // One status for the response: every error object's, or 400 when they disagree.
  const statuses = new Set((errors as { status?: string }[]).map((error) => error.status));
  if (!statuses.has(String(response.status)) && response.status !== 400) {
    problems.push(`HTTP ${response.status} but error objects say ${[...statuses].join(',')}`);
  }
  return problems;
}

/**
 * A GraphQL error response: `errors` with a message each (and no data to speak of), and
 * each with an `extensions.code`, so that a client can tell one refusal from another
 * without reading the message.
 */
export function graphqlErrorProblems(response: RawResponse): Problems {
  const body = response.json as { errors?: unknown } | undefined;
  const errors = body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return [`not a GraphQL error response: ${response.text.slice(0, 200)}`];
  const problems: Problems = [];
  for (const error of errors as { message?: unknown; extensions?: { code?: unknown } }[]) {
    if (typeof error?.message !== 'string') problems.push('GraphQL error without a message');
    else if (typeof error.extensions?.code !== 'string' || !error.extensions.code) {
      problems.push(`GraphQL error without extensions.code: ${error.message.slice(0, 200)}`);
    }
  }
  return problems;
}

export interface TableSnapshot {
  /** Per table: the rows as text, by id (or by the row text when the table has no id). */
  [table: string]: Map<string, string>;
}

/** Every row of every application table (migrations bookkeeping aside). */
export async function snapshotTables(db: Database): Promise<TableSnapshot> {
  const tables = await db.sql.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'
      ORDER BY table_name`,
  );
  const snapshot: TableSnapshot = {};
  for (const { name } of tables) {
    const rows = await db.sql.query<{ id: string | null; row: string }>(
      `SELECT to_jsonb(t)->>'id' AS id, to_jsonb(t)::text AS row FROM "${name.replace(/"/g, '""')}" t`,
    );
    snapshot[name] = new Map(rows.map((row) => [row.id ?? row.row, row.row]));
  }
  return snapshot;
}

export const rowCounts = (snapshot: TableSnapshot) => Object.fromEntries(Object.entries(snapshot).map(([table, rows]) => [table, rows.size]));
