// GraphiQL served whole by the service: the page, GraphiQL's script and styles and the
// editor's workers all come from this origin, so it works on a machine with no internet
// access and under a Content-Security-Policy that allows nothing else. (Yoga's own page
// loads them from a public CDN.) The assets are the GraphiQL build that
// @graphql-yoga/render-graphiql ships as strings; they are loaded on the first request
// for one, so an instance with GraphiQL off never holds them, and only as bytes.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { gzip as gzipCallback } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { errorFor } from './error-response.js';

const gzip = promisify(gzipCallback);
const { version } = createRequire(import.meta.url)('@graphql-yoga/render-graphiql/package.json') as { version: string };

/** Everything GraphiQL loads lives under this path. */
export const GRAPHIQL_ASSET_PATH = '/graphiql/';
/** The package's version is in the path, so its files can be cached for good. */
const ASSETS = `${GRAPHIQL_ASSET_PATH}${version}/`;

/**
 * Only this origin, for everything: scripts only from files (no inline script, no eval),
 * workers from files too. Styles also allow inline because Monaco, GraphiQL's editor,
 * writes <style> elements and style attributes at run time and offers no way to give
 * them a nonce; an inline style cannot run code. `data:` for images and fonts is for the
 * icons and fonts GraphiQL's stylesheet embeds, not another origin.
 */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = { 'Content-Security-Policy': GRAPHIQL_CSP, 'X-Content-Type-Options': 'nosniff' };

/** Monaco asks for a worker by label; each is a file of its own. */
const WORKERS = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };

/**
 * Starts GraphiQL with the options the page carries as data: the workers come from this
 * origin (Yoga's page fetches them from the CDN and runs them from blob: URLs).
 */
const START_SCRIPT = `'use strict';
(function () {
  var config = JSON.parse(document.getElementById('graphiql-config').textContent);
  var workers = ${JSON.stringify(WORKERS)};
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) {
      return config.assets + (workers[label] || workers.editorWorkerService);
    },
  };
  document.addEventListener('DOMContentLoaded', function () {
    YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), config.options);
  });
})();
`;
/** Named by its content, so a changed script is a new URL and the old one may be cached for good. */
const START_PATH = `${GRAPHIQL_ASSET_PATH}start-${contentHash(START_SCRIPT)}.js`;

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => HTML_ENTITIES[char] ?? char);

/** The page at GET /graphql: yoga's `renderGraphiQL`, loading only files from this origin. */
export function renderGraphiQLPage(options: GraphiQLOptions): string {
  const title = escapeHtml(options.title || 'GraphiQL');
  // A JSON data block is not run, so the policy needs no allowance for it; `<` escaped so
  // no value can close the element.
  const config = JSON.stringify({ assets: ASSETS, options }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${ASSETS}favicon.ico">
<link rel="stylesheet" href="${ASSETS}graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run GraphiQL.</noscript>
<div id="root">Loading ${title}...</div>
<script type="application/json" id="graphiql-config">${config}</script>
<script src="${START_PATH}"></script>
<script src="${ASSETS}yoga-graphiql.js"></script>
</body>
</html>
`;
}

/** The policy on the page itself (yoga answers it with only a content type). */
export function graphiqlPageHeaders(): Plugin {
  return {
    onResponse({ response }) {
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
    },
  };
}

interface Asset {
  type: string;
  body: Buffer;
  hash: string;
  gzipped?: Promise<Buffer>;
}

/** What the package exports, each a string: the script, styles, three workers and a data: URL. */
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

function contentHash(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('base64url').slice(0, 22);
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
