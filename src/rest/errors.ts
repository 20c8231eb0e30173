// JSON:API error objects. The one place where a failure becomes an HTTP status: domain
// codes by their kind (src/domain/errors.ts), plus the few failures only HTTP has.
import { GraphQLError } from 'graphql';
import { ERROR_CODES, ERROR_DETAIL_NAMES, type ErrorCode, type ErrorKind } from '../domain/errors.js';
import { maskError } from '../graphql/errors.js';
import { logger } from '../observability/logger.js';

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unprocessable: 422,
  unavailable: 503,
};

const TITLES: Record<number, string> = {
  400: 'Invalid Request',
  401: 'Unauthorized',
  403: 'Access denied',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Codes of failures that only the HTTP surface has (the rest are domain codes). */
export type HttpErrorCode =
  | 'MALFORMED_JSON'
  | 'INVALID_QUERY_PARAMETER'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_ACCEPTABLE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'RESOURCE_TYPE_MISMATCH'
  | 'RESOURCE_ID_MISMATCH'
  | 'CLIENT_GENERATED_ID_UNSUPPORTED'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'
  | 'INTERNAL_SERVER_ERROR';

export type ErrorSource = { pointer: string } | { parameter: string } | { header: string };

export interface ErrorObject {
  status: string;
  code: string;
  title: string;
  detail: string;
  source?: ErrorSource;
  /** What the client may act on, e.g. the `existingId` of a conflict. */
  meta?: Record<string, string>;
}

/** One or more error objects that end the request with one status. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly errors: ErrorObject[],
    readonly headers: Record<string, string> = {},
  ) {
    super(errors.map((e) => e.detail).join('; '));
    this.name = 'RestError';
  }
}

export function errorObject(status: number, code: string, detail: string, source?: ErrorSource, meta?: Record<string, string>): ErrorObject {
  return { status: String(status), code, title: TITLES[status] ?? 'Error', detail, ...(source && { source }), ...(meta && { meta }) };
}

export function restError(
  status: number,
  code: HttpErrorCode | ErrorCode,
  detail: string,
  source?: ErrorSource,
  headers?: Record<string, string>,
): RestError {
  return new RestError(status, [errorObject(status, code, detail, source)], headers);
}

/** Several errors of one request: the status is theirs if they agree, else 400. */
export function restErrors(errors: ErrorObject[]): RestError {
  const [status, ...others] = new Set(errors.map((e) => e.status));
  return new RestError(status !== undefined && others.length === 0 ? Number(status) : 400, errors);
}

export const statusOfCode = (code: unknown): number | undefined =>
  typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? STATUS_BY_KIND[ERROR_CODES[code as ErrorCode]] : undefined;

/** Turns a dotted input path (`initialMessage.template.id`) into a JSON pointer under `base`. */
export function pointerFrom(field: string, base = '/data/attributes'): string {
  return `${base}/${field.split('.').map(escapePointerToken).join('/')}`;
}

export const escapePointerToken = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * A GraphQL execution error as a JSON:API error object, through the same masking the
 * GraphQL endpoint uses: domain errors keep code, message and field; anything else is a
 * generic 500 (never a stack trace).
 */
export function fromGraphQLError(error: GraphQLError | Error): ErrorObject {
  const masked = maskError(error);
  const extensions = masked instanceof GraphQLError ? masked.extensions : {};
  const status = statusOfCode(extensions.code);
  if (!status) {
    // GraphQL refused one of the adapter's own operations (a variable it should not have
    // sent): the adapter's bug, so logged here; maskError logs what it masks itself.
    if (extensions.code === undefined) logger.error({ err: error }, 'REST operation refused by GraphQL');
    return errorObject(500, 'INTERNAL_SERVER_ERROR', 'An unexpected error occurred.');
  }
  const field = typeof extensions.field === 'string' ? extensions.field : undefined;
  // The domain error's details travel as GraphQL extensions; JSON:API's place for them is meta.
  const details = ERROR_DETAIL_NAMES.filter((name) => typeof extensions[name] === 'string');
  const meta = details.length ? Object.fromEntries(details.map((name) => [name, String(extensions[name])])) : undefined;
  return errorObject(status, String(extensions.code), masked.message, field ? { pointer: pointerFrom(field) } : undefined, meta);
}

/** Any failure as a RestError; everything but a RestError goes through GraphQL's masking. */
export function fromUnknown(error: unknown): RestError {
  if (error instanceof RestError) return error;
  return restErrors([fromGraphQLError(error instanceof Error ? error : new Error(String(error)))]);
}
