// The repository stands alone and its documentation keeps up with the code: no file points
// outside it, every environment variable the service reads is documented in a table of the
// README or of a document it links to, every relative link of the README and docs/ leads to
// a file, the README stays short enough to read first, and docs/ARCHITECTURE.md names every
// folder of src/ and every rule of the dependency check.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { at } from '../support/items.ts';
import { ROOT, variablesTheServiceReads } from './container-files.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const docs = readdirSync(join(ROOT, 'docs'))
  .filter((file) => file.endsWith('.md'))
  .map((file) => `docs/${file}`);

/** The relative link targets of a Markdown file (anchors and web addresses aside), resolved from the repository's root. */
function relativeLinks(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)]
    .map((match) => at(match, 1))
    .filter((target) => !/^[a-z]+:/.test(target))
    .map((target) => join(dirname(file), target));
}

/** The repository's own text files: sources, tests, docs, scripts, CI, container files. */
function ownTextFiles(): string[] {
  const folders = ['src', 'test', 'docs', 'bench', 'prisma', 'scripts', '.ci'];
  const files = folders.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
      .map((file) => join(folder, file))
      .filter((file) => /\.(ts|mjs|md|prisma|graphql|sql|txt)$|^\.ci\/run$/.test(file)),
  );
  return [...files, 'README.md', 'Dockerfile', 'compose.yaml', 'package.json', 'codegen.ts'].filter(
    // Generated code; applied migrations, whose checksums databases have recorded; the
    // older documentation as published; and this file, which names what it looks for.
    (file) =>
      !file.includes('generated') &&
      !file.startsWith('prisma/migrations/') &&
      !file.startsWith('test/fixtures/reference/') &&
      file !== 'test/deploy/docs.test.ts',
  );
}

describe('the repository', () => {
  it('points nowhere outside itself', () => {
    const outside = /\.\.\/shared|\/work\/|SPEC ?§|\bSPEC\b/;
    const offenders = ownTextFiles().filter((file) => outside.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('finds its own files to check (so the check above cannot pass on an empty list)', () => {
    const files = ownTextFiles();
    for (const file of ['src/server.ts', 'README.md', 'docs/API.md', '.ci/run', 'Dockerfile']) expect(files).toContain(file);
  });

  it('documents every environment variable the service reads in a table of the README or of a document it links to', () => {
    const linked = [...readme.matchAll(/\]\((docs\/[^)#]+\.md)/g)].map((match) => at(match, 1));
    const tableRows = [readme, ...linked.map((file) => readFileSync(join(ROOT, file), 'utf8'))]
      .flatMap((text) => text.split('\n'))
      .filter((line) => line.startsWith('| `'));
    const documented = new Set(tableRows.flatMap((row) => [...row.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => at(match, 1))));
    const undocumented = [...variablesTheServiceReads()].filter((name) => !documented.has(name));
    expect(undocumented).toEqual([]);
  });

  it('links only to documents that exist', () => {
    const links = [...readme.matchAll(/\]\(((?:docs|src|test)\/[^)#]+)/g)].map((match) => at(match, 1));
    expect(links).toEqual(
      expect.arrayContaining([
        'docs/API.md',
        'docs/OPERATIONS.md',
        'docs/ARCHITECTURE.md',
        'docs/REST.md',
        'docs/GRAPHQL.md',
        'docs/WEBHOOKS.md',
        'docs/KEYS.md',
      ]),
    );
    for (const link of links) expect(existsSync(join(ROOT, link)), link).toBe(true);
  });

  it('has no relative link, in the README or in docs/, to a file that does not exist', () => {
    const links = ['README.md', ...docs].flatMap((file) => relativeLinks(file).map((target) => [file, target] as const));
    expect(links.length).toBeGreaterThan(20);
    const broken = links.filter(([, target]) => !existsSync(join(ROOT, target)));
    expect(broken).toEqual([]);
  });

  it('keeps the README under 200 lines: what it is, how to start and test it, the first requests, where to go next', () => {
    expect(readme.split('\n').length).toBeLessThan(200);
  });

  it('keeps performance history out of the code: no comment in src/ gives an old share of CPU or an old timing', () => {
    const history = /\b(?:was|were)\b[^\n]*(?:\d+(?:\.\d+)? ?%|\ba (?:tenth|quarter|third)|\bhalf) of\b|\d+(?:\.\d+)? ?ms ?(?:→|->)/;
    const sources = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.includes('generated'))
      .map((file) => join('src', file));
    expect(sources.length).toBeGreaterThan(50);
    const offenders = sources.flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .map((line, index) => [`${file}:${index + 1}`, line] as const)
        .filter(([, line]) => /^\s*(?:\/\/|\*|\/\*)/.test(line) && history.test(line))
        .map(([where]) => where),
    );
    expect(offenders).toEqual([]);
  });

  it('docs/ARCHITECTURE.md names every folder of src/ and every rule of the dependency check', () => {
    const architecture = existsSync(join(ROOT, 'docs/ARCHITECTURE.md')) ? readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8') : '';
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `src/${entry.name}/`);
    const rules = [...readFileSync(join(ROOT, '.dependency-cruiser.cjs'), 'utf8').matchAll(/name: '([a-z-]+)'/g)].map((match) => at(match, 1));
    expect(rules.length).toBeGreaterThan(0);
    expect(folders.filter((folder) => !architecture.includes(`\`${folder}\``))).toEqual([]);
    expect(rules.filter((rule) => !architecture.includes(`\`${rule}\``))).toEqual([]);
  });
});
