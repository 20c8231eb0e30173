// GraphiQL served whole by the service: the page, GraphiQL's script and styles and the
// editor's workers all come from this origin, so it works on a machine with no internet
// access and under a Content-Security-Policy that allows nothing else. (Yoga's own page
// loads them from a public CDN.) The assets are the GraphiQL build that
// @graphql-yoga/render-graphiql ships as strings; they are loaded on the first request
// for one, so an instance with GraphiQL off never holds them, and only as bytes.
//
// This file serves the files; the page and the names it loads them by are in
// src/graphql/graphiql-page.ts.
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { gzip as gzipCallback } from 'node:zlib';
import { ASSETS, contentHash, SECURITY_HEADERS, START_PATH, START_SCRIPT, WORKERS } from '../graphql/graphiql-page.js';
import { errorFor } from './error-response.js';

export { GRAPHIQL_ASSET_PATH } from '../graphql/graphiql-page.js';

const gzip = promisify(gzipCallback);

interface Asset {
  type: string;
  body: Buffer;
  hash: string;
  gzipped?: Promise<Buffer>;
}

const BUILD_PARTS = ['js', 'css', 'editorWorkerService', 'jsonWorker', 'graphqlWorker', 'favicon'] as const;
type Build = Record<(typeof BUILD_PARTS)[number], Uint8Array>;

/**
 * The package is a 9 MB module of string literals: imported here it would stay on the
 * heap for good (about 30 MB of a 256 MB budget). A worker thread imports it, hands back
 * the bytes, and exits, taking the module with it; only the bytes (9 MB, off the heap) stay.
 */
function readBuild(): Promise<Build> {
  const module = createRequire(import.meta.url).resolve('@graphql-yoga/render-graphiql/graphiql');
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const build = require(workerData.module);
     const encoder = new TextEncoder();
     parentPort.postMessage(Object.fromEntries(workerData.parts.map((part) => [part, encoder.encode(build[part])])));`,
    { eval: true, workerData: { module, parts: BUILD_PARTS } },
  );
  return new Promise<Build>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`reading GraphiQL's files: the worker exited (${code}) with no answer`)));
  });
}

async function loadAssets(): Promise<Map<string, Asset>> {
  const build = await readBuild();
  const javascript = 'text/javascript; charset=utf-8';
  const favicon = Buffer.from(build.favicon).toString('latin1');
  return new Map([
    [START_PATH, asset(javascript, Buffer.from(START_SCRIPT))],
    [`${ASSETS}yoga-graphiql.js`, asset(javascript, bytes(build.js))],
    [`${ASSETS}graphiql.css`, asset('text/css; charset=utf-8', bytes(build.css))],
    [`${ASSETS}${WORKERS.editorWorkerService}`, asset(javascript, bytes(build.editorWorkerService))],
    [`${ASSETS}${WORKERS.json}`, asset(javascript, bytes(build.jsonWorker))],
    [`${ASSETS}${WORKERS.graphql}`, asset(javascript, bytes(build.graphqlWorker))],
    // The package has the icon as a data: URL; as a file it needs no allowance in the policy.
    [`${ASSETS}favicon.ico`, asset('image/x-icon', Buffer.from(favicon.slice(favicon.indexOf(',') + 1), 'base64'))],
  ]);
}

const bytes = (array: Uint8Array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

function asset(type: string, body: Buffer): Asset {
  return { type, body, hash: contentHash(body) };
}

export interface GraphiQLAssets {
  /** Answers GET/HEAD under GRAPHIQL_ASSET_PATH. */
  serve(request: Request): Promise<Response>;
}

export function createGraphiQLAssets(): GraphiQLAssets {
  let loaded: Promise<Map<string, Asset>> | undefined;
  return {
    async serve(request) {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return errorFor('other', 405, 'METHOD_NOT_ALLOWED', 'GraphiQL files are only read (GET, HEAD)', { Allow: 'GET, HEAD' });
      }
      // A failed load (a broken install) is tried again by the next request.
      loaded ??= loadAssets().catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      const found = (await loaded).get(new URL(request.url).pathname);
      if (!found) return errorFor('other', 404, 'ROUTE_NOT_FOUND', 'nothing is served at this path');
      // Compressed once, on first demand, off the event loop: GraphiQL's script is 5 MB as text.
      const gzipped = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
      const etag = gzipped ? `"${found.hash}-gzip"` : `"${found.hash}"`;
      const headers: Record<string, string> = {
        'Content-Type': found.type,
        // Every path names its content (a version or a hash): it never changes.
        'Cache-Control': 'public, max-age=31536000, immutable',
        ETag: etag,
        Vary: 'Accept-Encoding',
        ...SECURITY_HEADERS,
      };
      const known = (request.headers.get('if-none-match') ?? '').split(',').map((tag) => tag.trim());
      if (known.includes(etag)) return new Response(null, { status: 304, headers });
      let body = found.body;
      if (gzipped) {
        found.gzipped ??= gzip(found.body);
        body = await found.gzipped;
        headers['Content-Encoding'] = 'gzip';
      }
      headers['Content-Length'] = String(body.length);
      return new Response(request.method === 'HEAD' ? null : new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length), { headers });
    },
  };
}
