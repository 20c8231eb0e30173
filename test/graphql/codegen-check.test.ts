// `npm run codegen:check` (in CI): the checked-in generated documents are what
// `npm run codegen` makes from the current schema.graphql, or the check fails naming them.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import config from '../../codegen.ts';
import { at } from '../support/items.ts';

const root = new URL('../..', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'codegen-check-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const codegen = join(root, 'node_modules/.bin/graphql-codegen');

async function run(args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(codegen, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('codegen check', () => {
  it('is the npm script CI runs', () => {
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
    expect(scripts['codegen:check']).toBe('graphql-codegen --config codegen.ts --check');
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toContain('npm run codegen:check');
  });

  it('passes on the checked-in files', async () => {
    const result = await run(['--config', 'codegen.ts', '--check']);
    expect(result.code, result.output).toBe(0);
  });

  it('fails on a generated file that no longer matches the schema, naming it', async () => {
    // The same configuration, generating into a copy whose graphql.ts is stale.
    const [output, options] = at(Object.entries(config.generates), 0, 'generated target');
    const copy = join(scratch, 'generated/');
    cpSync(join(root, output), copy, { recursive: true });
    writeFileSync(join(copy, 'graphql.ts'), `${readFileSync(join(copy, 'graphql.ts'), 'utf8')}\nexport type Stale = true;\n`);
    const file = join(scratch, 'codegen.json');
    writeFileSync(file, JSON.stringify({ ...config, generates: { [copy]: options } }));
    const result = await run(['--config', file, '--check']);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('stale files');
    expect(result.output).toContain(join(copy, 'graphql.ts').replace(`${root}`, ''));
  });
});
