// The one mapping of failures to JSON:API errors: every domain code gets its kind's
// status, fields become pointers, and anything unexpected is a generic 500.
import { GraphQLError } from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { DomainError, ERROR_CODES, type ErrorCode } from '../../src/domain/errors.ts';
import { logger } from '../../src/observability/logger.ts';
import { fromGraphQLError, fromUnknown, pointerTo } from '../../src/rest/errors.ts';
import { assertJsonApi } from './support.ts';

const STATUS = { invalid: 400, unauthenticated: 401, forbidden: 403, not_found: 404, conflict: 409, unprocessable: 422, unavailable: 503 };

describe('REST errors', () => {
  it('maps every domain code to its kind status, keeping code, message and field', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const error = fromGraphQLError(new GraphQLError('wrapped', { originalError: new DomainError(code, 'why', ['a', 'b']) }));
      expect(error).toMatchObject({ status: String(STATUS[ERROR_CODES[code]]), code, detail: 'why', source: { pointer: '/data/attributes/a/b' } });
      assertJsonApi({ errors: [error] }, code);
    }
  });

  it('escapes pointer tokens', () => {
    expect(pointerTo(['initialMessage', 'template', 'id'])).toBe('/data/attributes/initialMessage/template/id');
    expect(pointerTo(['a/b.c~d', 0])).toBe('/data/attributes/a~1b.c~0d/0');
  });

  it('logs a GraphQL error without a code (an operation of the adapter refused) and answers a generic 500', () => {
    const log = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    try {
      const refused = new GraphQLError('Variable "$offset" got invalid value 2499999975; Int cannot represent non 32-bit signed integer value');
      expect(fromGraphQLError(refused)).toEqual({
        status: '500',
        code: 'INTERNAL_SERVER_ERROR',
        title: 'Internal Server Error',
        detail: 'An unexpected error occurred.',
      });
      expect(log).toHaveBeenCalledTimes(1);
      expect(JSON.stringify(log.mock.calls[0])).toContain('$offset');
    } finally {
      log.mockRestore();
    }
  });

  it('turns anything unexpected into a generic 500 without internals', () => {
    const secret = new Error('SELECT * FROM "ApiKey" failed at /src/db.ts:12');
    for (const error of [fromUnknown(secret), fromUnknown(new GraphQLError('x', { originalError: secret }))]) {
      expect(error.status).toBe(500);
      expect(error.errors).toEqual([
        { status: '500', code: 'INTERNAL_SERVER_ERROR', title: 'Internal Server Error', detail: 'An unexpected error occurred.' },
      ]);
    }
  });
});
