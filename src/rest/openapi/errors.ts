// The error catalogue: every code an error object may carry (the domain's and the HTTP
// layer's), what each status means, and which statuses each kind of operation can answer.
import { ERROR_CODES, type ErrorDetails } from '../../domain/errors.js';
import type { HttpErrorCode } from '../errors.js';
import { jsonApi, type OperationKind, ref, type Schema } from './components.js';

// A Record over the union, so that a code added to HttpErrorCode must be listed here.
const HTTP_ERROR_CODES: Record<HttpErrorCode, true> = {
  MALFORMED_JSON: true,
  INVALID_QUERY_PARAMETER: true,
  ROUTE_NOT_FOUND: true,
  METHOD_NOT_ALLOWED: true,
  NOT_ACCEPTABLE: true,
  UNSUPPORTED_MEDIA_TYPE: true,
  PAYLOAD_TOO_LARGE: true,
  RESOURCE_TYPE_MISMATCH: true,
  RESOURCE_ID_MISMATCH: true,
  CLIENT_GENERATED_ID_UNSUPPORTED: true,
  RATE_LIMITED: true,
  REQUEST_TIMEOUT: true,
  INTERNAL_SERVER_ERROR: true,
};

// A Record over the details a domain error may carry, so that a new one must be described here.
const ERROR_DETAILS: Record<keyof ErrorDetails, Schema> = {
  existingId: {
    type: 'string',
    format: 'uuid',
    description: 'With THREAD_ALREADY_EXISTS: the id of the thread that holds the channel and identifier.',
  },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON, an invalid or non-writable member (`source.pointer`), or an invalid query parameter (`source.parameter`).',
  401: 'No API key, or an unknown one.',
  403: 'A read-only API key on a write ("access denied"), or a client-generated id.',
  404: 'No such resource in the organization of the API key.',
  406: 'Accept allows the JSON:API media type only with parameters.',
  409: 'A rule of the domain forbids it now (a thread that exists is named in `meta.existingId`), or `data.type`/`data.id` do not match the endpoint.',
  413: 'The request body is larger than 1 MB.',
  415: 'The request body is not sent as the JSON:API media type without parameters.',
  422: 'A referenced flow or message thread does not exist in the organization.',
  429: 'Too many requests for this API key; see the rate-limit headers.',
  500: 'An unexpected error (never with details).',
  503: 'The database is unavailable, or the request was not answered in time.',
};

const ERRORS_BY_KIND: Record<OperationKind, number[]> = {
  list: [400, 401, 406, 429, 500, 503],
  one: [400, 401, 404, 406, 429, 500, 503],
  create: [400, 401, 403, 406, 409, 413, 415, 422, 429, 500, 503],
  update: [400, 401, 403, 404, 406, 409, 413, 415, 422, 429, 500, 503],
  remove: [400, 401, 403, 404, 406, 409, 429, 500, 503],
};

/** The error responses of one kind of operation, as references to the shared ones. */
export function errorResponses(kind: OperationKind) {
  return Object.fromEntries(ERRORS_BY_KIND[kind].map((status) => [String(status), { $ref: `#/components/responses/Error${status}` }]));
}

/** The shared error responses, one per status (`Error404`, ...). */
export function errorResponseComponents(): Record<string, Schema> {
  return Object.fromEntries(
    Object.entries(ERROR_DESCRIPTIONS).map(([status, description]) => [`Error${status}`, { description, ...jsonApi(ref('ErrorDocument')) }]),
  );
}

/** The JSON:API error object and document. */
export function errorSchemas(): Record<string, Schema> {
  return {
    ErrorObject: {
      type: 'object',
      properties: {
        status: { type: 'string', description: 'The HTTP status, as a string.' },
        code: {
          type: 'string',
          enum: [...Object.keys(ERROR_CODES), ...Object.keys(HTTP_ERROR_CODES)],
          description: 'Stable: the same code GraphQL reports in `extensions.code`.',
        },
        title: { type: 'string' },
        detail: { type: 'string' },
        source: {
          oneOf: [
            { type: 'object', properties: { pointer: { type: 'string' } }, required: ['pointer'], additionalProperties: false },
            { type: 'object', properties: { parameter: { type: 'string' } }, required: ['parameter'], additionalProperties: false },
            { type: 'object', properties: { header: { type: 'string' } }, required: ['header'], additionalProperties: false },
          ],
        },
        meta: {
          type: 'object',
          description: 'What the client may act on (GraphQL has the same in `extensions`).',
          properties: ERROR_DETAILS,
          additionalProperties: false,
        },
      },
      required: ['status', 'code', 'title', 'detail'],
    },
    ErrorDocument: {
      type: 'object',
      properties: { errors: { type: 'array', items: ref('ErrorObject'), minItems: 1 } },
      required: ['errors'],
    },
  };
}
