// GraphiQL's page at GET /graphql, and the names of the files it loads: all from this
// origin, so it works on a machine with no internet access and under a Content-Security-Policy
// that allows nothing else. (Yoga's own page loads them from a public CDN.) The files
// themselves are served by the server layer (src/http/graphiql.ts).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

const { version } = createRequire(import.meta.url)('@graphql-yoga/render-graphiql/package.json') as { version: string };

/** Everything GraphiQL loads lives under this path. */
export const GRAPHIQL_ASSET_PATH = '/graphiql/';
/** The package's version is in the path, so its files can be cached for good. */
export const ASSETS = `${GRAPHIQL_ASSET_PATH}${version}/`;

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

export const SECURITY_HEADERS = { 'Content-Security-Policy': GRAPHIQL_CSP, 'X-Content-Type-Options': 'nosniff' };

/** Monaco asks for a worker by label; each is a file of its own. */
export const WORKERS = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };

/**
 * Starts GraphiQL with the options the page carries as data: the workers come from this
 * origin (Yoga's page fetches them from the CDN and runs them from blob: URLs).
 */
export const START_SCRIPT = `'use strict';
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
export const START_PATH = `${GRAPHIQL_ASSET_PATH}start-${contentHash(START_SCRIPT)}.js`;

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

/** What the package exports, each a string: the script, styles, three workers and a data: URL. */

/** A file's name part: its content's hash, so a changed file is a new URL. */
export function contentHash(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('base64url').slice(0, 22);
}
