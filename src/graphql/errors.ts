// The one place where failures become GraphQL errors: domain errors keep their message
// and stable code; anything else is masked, so no stack trace or SQL reaches a client.
import { GraphQLError } from 'graphql';
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
      ...(status && { http: { status } }),
    },
  });
}

export function maskError(error: unknown): Error {
  if (error instanceof GraphQLError) {
    if (error.originalError instanceof DomainError) return domainErrorToGraphQL(error.originalError, error);
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
