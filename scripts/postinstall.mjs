// Runs after `npm ci` / `npm install`: generates the Prisma client and compiles src/ to
// dist/, so that a fresh clone runs with `npm ci && npm start`.
//
// A production install (`npm ci --omit=dev`, or with NODE_ENV=production) is meant for a
// dist/ built beforehand (the Dockerfile's build stage) and may lack the Prisma CLI and
// TypeScript, so it skips both steps instead of failing. Otherwise any failure of theirs
// fails the install. Plain JavaScript: it must run before anything is compiled.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const BUILD_TOOLS = ['prisma', 'typescript'];

function installed(name) {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

// npm hands its settings to scripts: `--omit=dev` (which NODE_ENV=production implies) shows here.
const omitted = (process.env.npm_config_omit ?? '').split(/[\s,]+/);
const missing = BUILD_TOOLS.filter((name) => !installed(name));
if (omitted.includes('dev') || missing.length > 0) {
  const why = missing.length > 0 ? `${missing.join(' and ')} not installed` : 'dev dependencies omitted';
  const built = existsSync(new URL('../dist/server.js', import.meta.url));
  console.log(
    `postinstall: a production install (${why}): not generating the Prisma client or building dist/.` +
      (built ? '' : ' There is no dist/server.js: build it with a full `npm ci` first.'),
  );
  process.exit(0);
}

for (const script of ['generate', 'build']) {
  const { status, signal } = spawnSync('npm', ['run', script], { stdio: 'inherit' });
  if (status !== 0) {
    console.error(`postinstall: npm run ${script} failed (${signal ?? `exit code ${status}`})`);
    process.exit(status || 1);
  }
}
