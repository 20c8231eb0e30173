// `npm run check:schema`: graphql-inspector compares schema.graphql with the committed
// baseline, and a breaking change fails unless schema-changes.json lists it as intended.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'schema-check-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const RULE = '.ci/intended-schema-changes.cjs';
const inspector = join(root, 'node_modules/.bin/graphql-inspector');

/** The check as CI runs it, on a schema file and a list of intended changes. */
async function check(schema = 'schema.graphql', changes = 'schema-changes.json') {
  try {
    const { stdout, stderr } = await promisify(execFile)(inspector, ['diff', 'schema.baseline.graphql', schema, '--rule', RULE], {
      cwd: root,
      env: { ...process.env, SCHEMA_CHANGES: changes, FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const withSchema = (name: string, edit: (text: string) => string) => {
  const path = join(scratch, name);
  const text = readFileSync(join(root, 'schema.graphql'), 'utf8');
  const edited = edit(text);
  expect(edited).not.toBe(text);
  writeFileSync(path, edited);
  return path;
};

describe('schema check', () => {
  it('is the npm script CI runs', () => {
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
    expect(scripts['check:schema']).toBe(`graphql-inspector diff schema.baseline.graphql schema.graphql --rule ${RULE}`);
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toContain('npm run check:schema');
  });

  it('passes the schema as it is: its breaking changes are the listed ones', async () => {
    const result = await check();
    expect(result.code, result.output).toBe(0);
  });

  it('fails on a breaking change that is not listed, naming it', async () => {
    // A field clients select today disappears.
    const schema = withSchema('field-removed.graphql', (text) => text.replace(/\n {2}flowRun\(id: UUID!\): FlowRun\n/, '\n'));
    const result = await check(schema);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/✖ +Field flowRun was removed from object type Query/);
  });

  it('fails when a listed change is not in the schema any more (the list must say what the release breaks)', async () => {
    const list = JSON.parse(readFileSync(join(root, 'schema-changes.json'), 'utf8'));
    list.intended.push({ type: 'FIELD_REMOVED', path: 'Query.flowRuns', why: 'not true' });
    const path = join(scratch, 'changes.json');
    writeFileSync(path, JSON.stringify(list));
    const result = await check('schema.graphql', path);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('FIELD_REMOVED Query.flowRuns');
  });
});
