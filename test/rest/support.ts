// Helpers of the REST suite: a client for `app.fetch` that validates every response body
// against the official JSON:API 1.1 schema, and a shape comparison with the reference
// documents. Both inputs are fixtures of this repository (test/fixtures/README.md).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import type { App } from '../../src/http/app.ts';
import { at } from '../support/items.ts';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const fixturesDir = path.join(repoRoot, 'test/fixtures');
export const referenceDocPath = path.join(fixturesDir, 'reference/flow-runs-api-doc.txt');
const schemaPath = path.join(fixturesDir, 'jsonapi/jsonapi-1.1.schema.json');

type Validate = ((document: unknown) => boolean) & { errors?: unknown };

/** The schema with the two in-memory corrections of test/fixtures/jsonapi/NOTICE.md. */
function loadValidator(): Validate {
  // A missing fixture fails the run: every response check would otherwise pass unchecked.
  if (!existsSync(schemaPath)) throw new Error(`[rest tests] the fixture ${schemaPath} is missing`);
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  // 1. A link may be null (JSON:API 1.1, Document Structure > Links).
  schema.definitions.link.oneOf.push({ type: 'null' });
  // 2. Draft-07 `dependencies` (included requires data) as draft 2020-12 `dependentRequired`.
  schema.dependentRequired = schema.dependencies;
  delete schema.dependencies;
  // `format` stays an annotation (the 2020-12 default): links are checked by the schema's pattern.
  const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ allErrors: true, strict: false, validateFormats: false });
  return ajv.compile(schema) as Validate;
}

export const validateJsonApi = loadValidator();

export function assertJsonApi(document: unknown, what: string): void {
  if (!validateJsonApi(document)) {
    throw new Error(
      `${what}: response is not a valid JSON:API 1.1 document: ${JSON.stringify(validateJsonApi.errors, null, 1)}\n${JSON.stringify(document, null, 1)}`,
    );
  }
}

export interface CallOptions {
  key?: string;
  body?: unknown;
  /** A raw body, sent as is. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** One request through the app; every response body is checked against the JSON:API schema. */
export async function call(app: App, method: string, url: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { Accept: '*/*', ...options.headers };
  if (options.key !== undefined) headers.Authorization = options.key;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/vnd.api+json';
  }
  const response = await app.fetch(new Request(`http://test${url}`, { method, headers, body }));
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (url.startsWith('/public/v2/') && text) {
    if (response.headers.get('content-type') !== 'application/vnd.api+json') {
      throw new Error(`${method} ${url}: Content-Type ${response.headers.get('content-type')}`);
    }
    assertJsonApi(json, `${method} ${url} → ${response.status}`);
  }
  return { status: response.status, headers: response.headers, text, json };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/;

/** Free-form JSON attributes: compared as "an object", whatever they hold. */
const FREE_FORM = new Set(['state', 'initialMessage']);

/**
 * The shape of a document: the same keys in the same order, the same value types, and
 * link/id patterns with UUIDs abstracted. Arrays are shaped by their first element.
 */
export function shapeOf(value: unknown, key = ''): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length ? [shapeOf(value[0])] : [];
  if (typeof value === 'object') {
    if (FREE_FORM.has(key)) return 'object';
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v, k)]));
  }
  if (typeof value === 'string') {
    if (TIMESTAMP.test(value)) return 'timestamp';
    if (value.startsWith('/public/v2/') || key === 'id' || key.endsWith('Id')) return value.replace(UUID, '{uuid}');
    return 'string';
  }
  return typeof value;
}

/** `shapeOf` rendered as JSON, so that key order takes part in the comparison. */
export const shapeText = (value: unknown) => JSON.stringify(shapeOf(value), null, 1);

export interface ReferenceExample {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  requestBody?: unknown;
  response: unknown;
}

/**
 * The example exchanges of the reference doc: each request line (`GET /public/v2/... HTTP/1.1`)
 * with its headers, its JSON body when it has one (POST/PATCH), and the JSON response after it.
 */
/** A request header line of the reference document: its name and value. */
const HEADER = /^([A-Za-z-]+): (.*)$/;

export function referenceExamples(): ReferenceExample[] {
  if (!existsSync(referenceDocPath)) throw new Error(`[rest tests] the fixture ${referenceDocPath} is missing`);
  const lines = readFileSync(referenceDocPath, 'utf8').split('\n');
  const examples: ReferenceExample[] = [];
  let current: Omit<ReferenceExample, 'response'> | undefined;
  let awaitingBody = false;
  for (let i = 0; i < lines.length; i += 1) {
    const line = at(lines, i);
    const request = /^(GET|POST|PATCH|DELETE) (\/public\/v2\/\S+) HTTP\/1\.1$/.exec(line);
    if (request) {
      const method = at(request, 1);
      const headers: Record<string, string> = {};
      let j = i + 1;
      for (let header = HEADER.exec(lines[j] ?? ''); header; header = HEADER.exec(lines[++j] ?? '')) {
        headers[at(header, 1)] = at(header, 2);
      }
      current = { label: at(lines, i - 1), method, path: at(request, 2), headers };
      awaitingBody = method === 'POST' || method === 'PATCH';
      i = j - 1;
      continue;
    }
    if (line === '{' && current) {
      let depth = 0;
      let j = i;
      const block: string[] = [];
      for (; j < lines.length; j += 1) {
        const blockLine = at(lines, j);
        block.push(blockLine);
        depth += (blockLine.match(/[{[]/g) ?? []).length - (blockLine.match(/[}\]]/g) ?? []).length;
        if (depth === 0) break;
      }
      const json = JSON.parse(block.join('\n'));
      if (awaitingBody) {
        current.requestBody = json;
        awaitingBody = false;
      } else {
        examples.push({ ...current, response: json });
        current = undefined;
      }
      i = j;
    }
  }
  return examples;
}
