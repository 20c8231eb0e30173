// The repository stands alone and its operator documentation keeps up with the code: no
// file points outside it, every environment variable the service reads is documented in
// the README's tables, and the documents the README links to exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, variablesTheServiceReads } from './container-files.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

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

  it('documents every environment variable the service reads in a README table', () => {
    const tableRows = readme.split('\n').filter((line) => line.startsWith('| `'));
    const documented = new Set(tableRows.flatMap((row) => [...row.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1])));
    const undocumented = [...variablesTheServiceReads()].filter((name) => !documented.has(name));
    expect(undocumented).toEqual([]);
  });

  it('links only to documents that exist', () => {
    const links = [...readme.matchAll(/\]\(((?:docs|src|test)\/[^)#]+)/g)].map((match) => match[1]);
    expect(links).toEqual(expect.arrayContaining(['docs/API.md', 'docs/OPERATIONS.md']));
    for (const link of links) expect(existsSync(join(ROOT, link)), link).toBe(true);
  });
});
