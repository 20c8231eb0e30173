// Reading and checking a JSON:API request document. Which attributes may be written is
// read from the GraphQL input type of the mutation; their values are checked by GraphQL
// coercion and then by the domain, never here.
import { type GraphQLInputObjectType, isNonNullType } from 'graphql';
import { MAX_BODY_BYTES, readBodyWithin } from '../request/body.js';
import { assertRequestContentType } from './media-type.js';
import { type ErrorObject, errorObject, escapePointerToken, pointerTo, RestError, restError } from './errors.js';
import { valueProblems } from './input-values.js';

/** The request body as parsed JSON: 415 for a foreign media type, 413 over 1 MB, 400 if not JSON. */
export async function readJsonBody(request: Request): Promise<unknown> {
  assertRequestContentType(request.headers);
  const declared = request.headers.get('content-length');
  if (declared && Number(declared) > MAX_BODY_BYTES) throw tooLarge();

  const bytes = await readBodyWithin(request, MAX_BODY_BYTES);
  if (!bytes) throw tooLarge();
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw restError(400, 'MALFORMED_JSON', 'the request body is not valid UTF-8');
  }
  if (!text.trim()) throw restError(400, 'MALFORMED_JSON', 'the request body is empty; a JSON:API document is required');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw restError(400, 'MALFORMED_JSON', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

const tooLarge = () => restError(413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const TOP_LEVEL_MEMBERS = new Set(['data', 'meta', 'jsonapi']);
const RESOURCE_MEMBERS = new Set(['type', 'id', 'lid', 'attributes', 'relationships', 'meta', 'links']);

export interface WriteTarget {
  type: string;
  inputType: GraphQLInputObjectType;
  /** The input fields a document may write as attributes (others come from elsewhere, e.g. headers). */
  attributes: string[];
  /** The attributes that may be `null` (the input type's nullability means "optional" only). */
  nullable: Set<string>;
  /** PATCH: the id in the URL, which `data.id` must repeat. POST: undefined. */
  id?: string;
}

/**
 * The attributes of a create/update document, as the GraphQL `input` variable.
 * 400 for a malformed document or an attribute the input type does not have, 409 for a
 * `type`/`id` that does not match the route, 403 for a client-generated id.
 */
export function inputFromDocument(body: unknown, target: WriteTarget): Record<string, unknown> {
  const errors: ErrorObject[] = [];
  const invalid = (pointer: string, detail: string) => errors.push(errorObject(400, 'VALIDATION_FAILED', detail, { pointer }));

  if (!isObject(body)) throw restError(400, 'VALIDATION_FAILED', 'the request document must be a JSON object', { pointer: '' });
  for (const member of Object.keys(body)) {
    if (!TOP_LEVEL_MEMBERS.has(member)) invalid(`/${escapePointerToken(member)}`, `unexpected top-level member "${member}"`);
  }
  const data = body.data;
  if (data === undefined) invalid('/data', 'the document must have a "data" member');
  else if (!isObject(data)) invalid('/data', '"data" must be a single resource object');
  if (errors.length || !isObject(data)) throw new RestError(400, errors);

  for (const member of Object.keys(data)) {
    if (!RESOURCE_MEMBERS.has(member)) invalid(`/data/${escapePointerToken(member)}`, `unexpected member "${member}"`);
  }
  if (typeof data.type !== 'string') invalid('/data/type', '"data.type" must be a string');
  if (target.id !== undefined && data.id === undefined) invalid('/data/id', '"data.id" is required');
  if (data.id !== undefined && typeof data.id !== 'string') invalid('/data/id', '"data.id" must be a string');
  if (data.relationships !== undefined) {
    invalid('/data/relationships', 'relationships can not be written; set the related ids as attributes');
  }
  // An explicit null is not an absent member in JSON:API: it would clear every attribute.
  const attributes = data.attributes === undefined ? {} : data.attributes;
  if (!isObject(attributes)) invalid('/data/attributes', '"data.attributes" must be an object');
  else {
    const writable = new Set(target.attributes);
    for (const name of Object.keys(attributes)) {
      if (!writable.has(name)) {
        invalid(`/data/attributes/${escapePointerToken(name)}`, `attribute "${name}" is not writable`);
      }
    }
  }
  if (errors.length || !isObject(attributes)) throw new RestError(400, errors);

  if (data.type !== target.type) {
    throw restError(409, 'RESOURCE_TYPE_MISMATCH', `"data.type" must be "${target.type}" on this endpoint`, {
      pointer: '/data/type',
    });
  }
  if (target.id !== undefined && data.id !== target.id) {
    throw restError(409, 'RESOURCE_ID_MISMATCH', '"data.id" must be the id in the URL', { pointer: '/data/id' });
  }
  if (target.id === undefined && data.id !== undefined) {
    throw restError(403, 'CLIENT_GENERATED_ID_UNSUPPORTED', 'ids are assigned by the server; leave "data.id" out', {
      pointer: '/data/id',
    });
  }

  assertCoercible(attributes, target);
  return attributes;
}

/** The attribute values against the input type (required, null, scalar, enum), with pointers. */
function assertCoercible(attributes: Record<string, unknown>, { inputType, nullable }: WriteTarget) {
  const errors: ErrorObject[] = [];
  const reported = new Set<string>();
  const invalid = (name: string, detail: string) => {
    reported.add(name);
    errors.push(errorObject(400, 'VALIDATION_FAILED', `${name}: ${detail}`, { pointer: pointerTo([name]) }));
  };
  for (const field of Object.values(inputType.getFields())) {
    if (isNonNullType(field.type) && field.defaultValue === undefined && attributes[field.name] === undefined) {
      invalid(field.name, 'is required');
    }
  }
  // GraphQL would take these nulls as "not given" and change nothing.
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null && !nullable.has(name)) invalid(name, 'must not be null');
  }
  for (const { path, detail } of valueProblems(attributes, inputType)) {
    // Coercion finds the missing and null ones again (a missing one at the root, path []).
    if (!path.length || reported.has(String(path[0]))) continue;
    const where = path.length ? `${path.join('.')}: ` : '';
    errors.push(errorObject(400, 'VALIDATION_FAILED', `${where}${detail}`, { pointer: pointerTo(path) }));
  }
  if (errors.length) throw new RestError(400, errors);
}
