// The one place where failures become GraphQL errors: domain errors keep their message
// and stable code; anything else is masked, so no stack trace or SQL reaches a client.
import { PothosValidationError } from '@pothos/core';
import { GraphQLError, Kind } from 'graphql';
import { asDomainError } from '../domain/database-errors.js';
import { DomainError } from '../domain/errors.js';
import { logger } from '../observability/logger.js';

const HTTP_STATUS_BY_KIND: Partial<Record<DomainError['kind'], number>> = {
  unauthenticated: 401,
  unavailable: 503,
};

export function domainErrorToGraphQL(error: DomainError, source?: GraphQLError): GraphQLError {
  const status = HTTP_STATUS_BY_KIND[error.kind];
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

export function maskError(error: unknown): Error {
  if (error instanceof GraphQLError) {
    if (error.originalError instanceof DomainError) return domainErrorToGraphQL(error.originalError, error);
    const cursorProblem = unreadableCursor(error);
    if (cursorProblem) return domainErrorToGraphQL(cursorProblem, error);
    // Errors GraphQL itself raised (syntax, validation, variable coercion) are the client's.
    if (!error.originalError || error.originalError instanceof GraphQLError) return error;
    const known = asDomainError(error.originalError);
    if (known) return domainErrorToGraphQL(known, error);
    reportUnexpected(error.originalError);
    return new GraphQLError('Unexpected error.', {
      nodes: error.nodes,
      path: error.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  }
  if (error instanceof DomainError) return domainErrorToGraphQL(error);
  const known = asDomainError(error);
  if (known) return domainErrorToGraphQL(known);
  reportUnexpected(error);
  return new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

// The client gets a generic message; the operator gets the whole error.
function reportUnexpected(error: unknown) {
  logger.error({ err: error }, 'unexpected error');
}
