// JSON:API error objects. The one place where a failure becomes an HTTP status: domain
// codes by their kind (src/domain/errors.ts), plus the few failures only HTTP has.
import { GraphQLError } from 'graphql';
import { type DomainError, ERROR_DETAIL_NAMES, type ErrorCode, HTTP_STATUS_BY_KIND, type InputPath } from '../domain/errors.js';
import { domainErrorOf, maskError } from '../graphql/errors.js';
import { logger } from '../observability/logger.js';
import { type RequestPart, requestPartAt } from './routes.js';

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

/** A JSON pointer to the input member at `path` under `base`, each name escaped (RFC 6901). */
export const pointerTo = (path: InputPath, base = '/data/attributes') => [base, ...path.map((name) => escapePointerToken(String(name)))].join('/');

export const escapePointerToken = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * A GraphQL execution error as a JSON:API error object: a domain error keeps code,
 * message and path (pointing at the header or query parameter of `parts` that carried the
 * member, if one did); anything else goes through the masking the GraphQL endpoint uses
 * and is a generic 500 (never a stack trace).
 */
export function fromGraphQLError(error: GraphQLError | Error, parts: RequestPart[] = []): ErrorObject {
  const known = domainErrorOf(error);
  if (known) return fromDomainError(known, parts);
  const masked = maskError(error);
  // GraphQL refused one of the adapter's own operations (a variable it should not have
  // sent): the adapter's bug, so logged here; maskError logs what it masks itself.
  if (!(masked instanceof GraphQLError && masked.extensions.code !== undefined)) logger.error({ err: error }, 'REST operation refused by GraphQL');
  return errorObject(500, 'INTERNAL_SERVER_ERROR', 'An unexpected error occurred.');
}

function fromDomainError({ code, kind, message, path = [], details = {} }: DomainError, parts: RequestPart[]): ErrorObject {
  const status = HTTP_STATUS_BY_KIND[kind];
  // The domain error's details are JSON:API's meta.
  const named = ERROR_DETAIL_NAMES.filter((name) => typeof details[name] === 'string');
  const meta = named.length ? Object.fromEntries(named.map((name) => [name, String(details[name])])) : undefined;
  const part = requestPartAt(parts, path);
  if (!part) return errorObject(status, code, message, path.length ? { pointer: pointerTo(path) } : undefined, meta);
  // The message names the member as the domain does; the client sent it under another name.
  const name = 'header' in part ? part.header : part.parameter;
  const member = `${path.join('.')}: `;
  const detail = message.startsWith(member) ? `${name}: ${message.slice(member.length)}` : message;
  if ('header' in part) return errorObject(status, code, detail, { header: name }, meta);
  return errorObject(status, 'INVALID_QUERY_PARAMETER', detail, { parameter: name }, meta);
}

/** Any failure as a RestError; everything but a RestError goes through GraphQL's masking. */
export function fromUnknown(error: unknown): RestError {
  if (error instanceof RestError) return error;
  return restErrors([fromGraphQLError(error instanceof Error ? error : new Error(String(error)))]);
}
