// The layers of src/ and what each may import (npm run check:cycles; CI runs it).
// From the bottom: domain and database; the surfaces (graphql, then rest, which is built
// over the GraphQL schema); the server layer (http: app, serve, admission) on top. What
// both surfaces read off a request (its API key, its body within the limit, where it came
// from, an admission's verdict) lives in src/request, below them both.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: the modules in it cannot be understood, tested or moved one at a time.',
      from: {},
      // A type-only import back to the module that loads this one with import() (tracing-sdk.ts names the
      // Tracing interface of tracing.ts) creates no load-order cycle; the SDK must stay a dynamic import.
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'surfaces-below-server',
      severity: 'error',
      comment: 'GraphQL and the JSON:API adapter sit below the server layer: what they share with it belongs in src/request.',
      from: { path: '^src/(graphql|rest|request)/' },
      to: { path: '^src/http/' },
    },
    {
      name: 'graphql-below-rest',
      severity: 'error',
      comment: 'The JSON:API adapter translates to GraphQL operations; GraphQL knows nothing of it.',
      from: { path: '^src/graphql/' },
      to: { path: '^src/rest/' },
    },
    {
      name: 'domain-knows-no-surface',
      severity: 'error',
      comment: 'The rules live in src/domain with no HTTP or GraphQL in them.',
      from: { path: '^src/domain/' },
      to: { path: '^src/(graphql|rest|http|request)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/database/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
