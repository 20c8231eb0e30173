// The one place where failures become GraphQL errors: domain errors keep their message
// and stable code; anything else is masked, so no stack trace or SQL reaches a client.
import { GraphQLError } from 'graphql';
import { isDatabaseUnavailable } from '../domain/database-errors.js';
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
    if (isDatabaseUnavailable(error.originalError)) return domainErrorToGraphQL(databaseUnavailable(), error);
    if (isUnstorableValue(error.originalError)) return domainErrorToGraphQL(unstorableValue(), error);
    reportUnexpected(error.originalError);
    return new GraphQLError('Unexpected error.', {
      nodes: error.nodes,
      path: error.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  }
  if (error instanceof DomainError) return domainErrorToGraphQL(error);
  if (isDatabaseUnavailable(error)) return domainErrorToGraphQL(databaseUnavailable());
  if (isUnstorableValue(error)) return domainErrorToGraphQL(unstorableValue());
  reportUnexpected(error);
  return new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

const databaseUnavailable = () =>
  new DomainError('DATABASE_UNAVAILABLE', 'the database is unavailable at the moment; retry shortly');

// JSON and GraphQL strings may hold the NUL character (U+0000); PostgreSQL text and jsonb
// can not store it, and says so with these SQLSTATEs (22021 invalid byte sequence, 22P05
// untranslatable character, 22P02 invalid text representation). The value came from
// the client: a 400 like any other invalid value, not a 500.
const UNSTORABLE_VALUE_STATES = new Set(['22021', '22P05', '22P02']);

function isUnstorableValue(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    // Model queries report PostgreSQL's code under the adapter's cause; raw queries (P2010) as meta.code.
    const meta = (current as { meta?: { code?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta;
    const state = meta?.driverAdapterError?.cause?.originalCode ?? meta?.code ?? (current as { code?: unknown }).code;
    if (typeof state === 'string' && UNSTORABLE_VALUE_STATES.has(state)) return true;
  }
  return false;
}

const unstorableValue = () =>
  new DomainError('VALIDATION_FAILED', 'a text or JSON value holds a character that can not be stored (such as \\u0000)');

// The client gets a generic message; the operator gets the whole error.
function reportUnexpected(error: unknown) {
  logger.error({ err: error }, 'unexpected error');
}
