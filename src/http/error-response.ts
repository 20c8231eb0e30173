// Errors raised before a request reaches GraphQL or the JSON:API adapter (rate limit,
// size, timeout) still answer in the shape of the surface the client called.
import { restError } from '../rest/errors.js';
import { errorResponse } from '../rest/responses.js';

export type Surface = 'rest' | 'graphql' | 'other';

export function surfaceOf(pathname: string): Surface {
  if (pathname.startsWith('/public/v2/')) return 'rest';
  if (pathname === '/graphql') return 'graphql';
  return 'other';
}

export function errorFor(surface: Surface, status: number, code: string, detail: string, headers: Record<string, string> = {}): Response {
  if (surface === 'rest') return errorResponse(restError(status, code as never, detail, undefined, headers));
  return new Response(JSON.stringify({ errors: [{ message: detail, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}
