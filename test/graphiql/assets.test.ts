// GraphiQL's page and files as HTTP answers: everything the page loads is a file of this
// service, under a policy that allows nothing else, cached for good, compressed on request,
// gone with GRAPHIQL off. (test/graphiql/offline-browser.test.ts runs it in a browser.)
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createClientLimits } from '../../src/http/client-limits.ts';
import { openTestDatabase, type TestDatabase } from '../support/database.ts';
import { at, captured } from '../support/items.ts';

const browser = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('GraphiQL served by the service', () => {
  let db: TestDatabase;
  let app: ReturnType<typeof createApp>;
  let page: string;
  let pageResponse: Response;
  /** Every path the page loads, in order. */
  let loaded: string[];

  beforeAll(async () => {
    db = await openTestDatabase({ name: 'embedded' });
    app = createApp({ db, graphiqlHeaders: { Authorization: 'frg_demo</script><script>alert(1)' } });
    // A browser on this machine: the one the headers are filled in for.
    pageResponse = await app.fetch(new Request('http://localhost/graphql', { headers: { ...browser, host: 'localhost' } }), {
      remoteAddress: '127.0.0.1',
    });
    page = await pageResponse.text();
    loaded = [...page.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((match) => at(match, 1));
  });
  afterAll(() => db?.close());

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    app.fetch(new Request(`http://test${path}`, { method, headers }));

  it('loads nothing from another origin and runs no inline script', () => {
    expect(pageResponse.headers.get('content-type')).toMatch(/^text\/html/);
    expect(loaded.length).toBeGreaterThanOrEqual(4);
    for (const path of loaded) expect(path).toMatch(/^\/graphiql\//);
    expect(page).not.toMatch(/https?:\/\//);
    // The only script element without src is data, which the browser does not run.
    const inline = [...page.matchAll(/<script\b([^>]*)>/g)].map((match) => at(match, 1)).filter((attributes) => !/\bsrc=/.test(attributes));
    expect(inline).toEqual([' type="application/json" id="graphiql-config"']);
    // A header value cannot close the data element and start a script.
    expect(page).toContain('frg_demo\\u003c/script>\\u003cscript>alert(1)');
    expect(page).not.toContain('</script><script>alert(1)');
  });

  it('carries a policy that allows only the service, for the page and each file', async () => {
    const policy = pageResponse.headers.get('content-security-policy')!;
    expect(policy).toContain("default-src 'self'");
    expect(policy).toContain("script-src 'self';");
    expect(policy).not.toMatch(/https?:|\*|'unsafe-eval'/);
    for (const path of loaded) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-security-policy'), path).toBe(policy);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('serves each file with its type, cached for good, and answers a revalidation with 304', async () => {
    const types = await Promise.all(loaded.map(async (path) => (await get(path)).headers.get('content-type')));
    expect(types).toEqual(expect.arrayContaining([expect.stringMatching(/^text\/css/), expect.stringMatching(/^text\/javascript/)]));
    const script = loaded.find((path) => path.endsWith('/yoga-graphiql.js'))!;
    const first = await get(script);
    expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await first.arrayBuffer()).byteLength).toBe(Number(first.headers.get('content-length')));
    const again = await get(script, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('compresses a file for a client that accepts gzip, to the same bytes', async () => {
    const script = loaded.find((path) => path.endsWith('/yoga-graphiql.js'))!;
    const plain = Buffer.from(await (await get(script)).arrayBuffer());
    const compressed = await get(script, { 'accept-encoding': 'gzip, deflate, br' });
    expect(compressed.headers.get('content-encoding')).toBe('gzip');
    expect(compressed.headers.get('vary')).toBe('Accept-Encoding');
    const body = Buffer.from(await compressed.arrayBuffer());
    expect(body.length).toBeLessThan(plain.length / 2);
    expect(gunzipSync(body).equals(plain)).toBe(true);
    // A different representation, so a different tag.
    expect(compressed.headers.get('etag')).not.toBe((await get(script)).headers.get('etag'));
  });

  it('serves the editor workers the page names, and the icon', async () => {
    const start = await (await get(loaded.find((path) => /\/start-[\w-]+\.js$/.test(path))!)).text();
    const workers = JSON.parse(captured(/var workers = (\{[^}]+\})/, start)) as Record<string, string>;
    expect(Object.keys(workers).sort()).toEqual(['editorWorkerService', 'graphql', 'json']);
    const base = loaded.find((path) => path.endsWith('/graphiql.css'))!.replace(/graphiql\.css$/, '');
    for (const file of [...Object.values(workers), 'favicon.ico']) {
      const response = await get(base + file);
      expect(response.status, file).toBe(200);
      expect((await response.arrayBuffer()).byteLength, file).toBeGreaterThan(1000);
    }
    expect((await get(`${base}favicon.ico`)).headers.get('content-type')).toBe('image/x-icon');
  });

  it('answers a path it does not have with 404, a write with 405, HEAD without a body', async () => {
    expect((await get('/graphiql/0.0.0/yoga-graphiql.js')).status).toBe(404);
    const post = await get(at(loaded, 0), {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await get(at(loaded, 0), {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it("does not spend a client address's budget for requests without a key on its files", async () => {
    const limited = createApp({ db, clientLimits: createClientLimits({ authFailuresPerMinute: 0, keylessPerMinute: 1 }) });
    const connection = { remoteAddress: '203.0.113.7' };
    for (let i = 0; i < 3; i++) {
      const response = await limited.fetch(new Request(`http://test${loaded[i % loaded.length]}`), connection);
      expect(response.status).toBe(200);
    }
  });

  it('is not served at all when GraphiQL is off', async () => {
    const off = createApp({ db, graphiql: false });
    for (const path of loaded) expect((await off.fetch(new Request(`http://test${path}`))).status, path).toBe(404);
    const graphqlPage = await off.fetch(new Request('http://test/graphql', { headers: browser }));
    expect(graphqlPage.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
  });
});
