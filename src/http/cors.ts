// CORS for browser frontends, the same for both surfaces: origins from
// CORS_ORIGINS, none by default; preflights may send the headers a client needs.
import type { ClientConnection } from '../request/client-connection.js';

const ALLOWED_METHODS = 'GET, POST, PATCH, DELETE, OPTIONS';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id';
const EXPOSED_HEADERS = 'Location, Idempotent-Replayed, X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset';

export type Handler = (request: Request, connection?: ClientConnection) => Promise<Response>;

/** `origins`: allowed origins, or ['*'] for any. */
export function withCors(handle: Handler, origins: readonly string[]): Handler {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  const allowOrigin = (origin: string | null) => (origin && (any || allowed.has(origin)) ? (any ? '*' : origin) : undefined);

  return async (request, connection) => {
    const origin = request.headers.get('origin');
    const allow = allowOrigin(origin);
    const isPreflight = request.method === 'OPTIONS' && origin !== null && request.headers.has('access-control-request-method');
    if (isPreflight) {
      // An origin that is not allowed gets no CORS headers: the browser refuses for us.
      const headers: Record<string, string> = { Vary: 'Origin' };
      if (allow) {
        Object.assign(headers, {
          'Access-Control-Allow-Origin': allow,
          'Access-Control-Allow-Methods': ALLOWED_METHODS,
          'Access-Control-Allow-Headers': ALLOWED_HEADERS,
          'Access-Control-Max-Age': '600',
        });
      }
      return new Response(null, { status: 204, headers });
    }
    const response = await handle(request, connection);
    if (allow) {
      response.headers.set('Access-Control-Allow-Origin', allow);
      response.headers.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      response.headers.append('Vary', 'Origin');
    }
    return response;
  };
}
