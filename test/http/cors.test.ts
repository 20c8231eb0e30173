// CORS for browser frontends on both surfaces: allowed origins only, preflights that
// let Authorization, Content-Type and Idempotency-Key through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createTestTenant, openTestDatabase, type TestDatabase } from '../support/database.ts';

const ALLOWED = 'https://app.example.com';

describe('CORS', () => {
  let db: TestDatabase;
  let key: string;

  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
    key = (await createTestTenant(db)).key;
  });
  afterAll(() => db.close());

  const preflight = (origins: string[], path: string, origin: string) =>
    createApp({ db, corsOrigins: origins }).fetch(
      new Request(`http://test${path}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, idempotency-key',
        },
      }),
    );

  it.each(['/public/v2/flow-runs', '/graphql'])('answers a preflight from an allowed origin on %s', async (path) => {
    const response = await preflight([ALLOWED], path, ALLOWED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const allowedHeaders = response.headers.get('access-control-allow-headers')!.toLowerCase();
    for (const header of ['authorization', 'content-type', 'idempotency-key']) expect(allowedHeaders).toContain(header);
    expect(response.headers.get('access-control-allow-methods')).toContain('PATCH');
  });

  it('gives no CORS headers to another origin, or to any origin when none is configured', async () => {
    expect((await preflight([ALLOWED], '/graphql', 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight([], '/graphql', ALLOWED)).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('marks real responses of both surfaces for allowed origins, and exposes the useful headers', async () => {
    const app = createApp({ db, corsOrigins: [ALLOWED] });
    const rest = await app.fetch(new Request('http://test/public/v2/flow-runs', { headers: { origin: ALLOWED, authorization: key } }));
    expect(rest.status).toBe(200);
    expect(rest.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(rest.headers.get('access-control-expose-headers')).toContain('Idempotent-Replayed');
    const graphql = await app.fetch(
      new Request('http://test/graphql', {
        method: 'POST',
        headers: { origin: ALLOWED, authorization: key, 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ flowRuns { totalCount } }' }),
      }),
    );
    expect(graphql.status).toBe(200);
    expect(graphql.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it("answers '*' when CORS_ORIGINS allows any origin", async () => {
    expect((await preflight(['*'], '/public/v2/flows', 'http://localhost:5173')).headers.get('access-control-allow-origin')).toBe('*');
  });
});
