import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  resolve: {
    // Node loads graphql's CommonJS build for the libraries; tests must share that one
    // instance, or schema objects from "another realm" are rejected.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // JSON logs only when asked for (LOG_LEVEL=info npm test).
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: each worker runs its own embedded PostgreSQL in WASM.
    maxWorkers: 2,
  },
});
