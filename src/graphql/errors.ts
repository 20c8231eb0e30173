// The one place where failures become GraphQL errors: domain errors keep their message
// and stable code; anything else is masked, so no stack trace or SQL reaches a client.
import { PothosValidationError } from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import { asDomainError } from '../domain/database-errors.js';
import { DomainError, type ErrorKind, HTTP_STATUS_BY_KIND } from '../domain/errors.js';
import { logger } from '../observability/logger.js';

// A GraphQL response answers 200 whatever its errors; these kinds are about the request
// as a whole (who sends it, whether it can be served at all), so they set the status.
const KINDS_SETTING_HTTP_STATUS = new Set<ErrorKind>(['unauthenticated', 'unavailable']);

export function domainErrorToGraphQL(error: DomainError, source?: GraphQLError): GraphQLError {
  const status = KINDS_SETTING_HTTP_STATUS.has(error.kind) ? HTTP_STATUS_BY_KIND[error.kind] : undefined;
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    path: source?.path,
    extensions: {
      code: error.code,
      ...(error.path?.length && { field: error.path.join('.') }),
      // What the client may act on, e.g. the existingId of a conflict.
      ...error.details,
      ...(status && { http: { status } }),
    },
  });
}

/**
 * A cursor the connection cannot read is refused by Pothos while it plans the query,
 * before any resolver of ours runs: the client's mistake, coded and named like ours.
 */
function unreadableCursor(error: GraphQLError): DomainError | undefined {
  if (!(error.originalError instanceof PothosValidationError) || !/cursor/i.test(error.message)) return undefined;
  const field = error.nodes?.[0];
  const given = field?.kind === Kind.FIELD ? (field.arguments ?? []).map((argument) => argument.name.value) : [];
  const named = ['after', 'before'].filter((name) => given.includes(name));
  const argument = named.join(' or ') || 'after or before';
  return new DomainError('VALIDATION_FAILED', `${argument}: must be a cursor from this list's edges`, [argument]);
}

/**
 * The domain error a failure is, if it is one: raised by our code (as a GraphQL error's
 * original error, or as itself), a refused cursor, or a database failure the domain names.
 */
export function domainErrorOf(error: unknown): DomainError | undefined {
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    if (original instanceof DomainError) return original;
    // Pothos's own errors are GraphQL errors too: the cursor check comes first.
    return unreadableCursor(error) ?? (!original || original instanceof GraphQLError ? undefined : asDomainError(original));
  }
  return error instanceof DomainError ? error : asDomainError(error);
}

export function maskError(error: unknown): Error {
  const source = error instanceof GraphQLError ? error : undefined;
  const known = domainErrorOf(error);
  if (known) return domainErrorToGraphQL(known, source);
  // Errors GraphQL itself raised (syntax, validation, variable coercion) are the client's.
  if (source && (!source.originalError || source.originalError instanceof GraphQLError)) return source;
  reportUnexpected(source ? source.originalError : error);
  return new GraphQLError('Unexpected error.', {
    nodes: source?.nodes,
    path: source?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

// The client gets a generic message; the operator gets the whole error.
function reportUnexpected(error: unknown) {
  logger.error({ err: error }, 'unexpected error');
}
