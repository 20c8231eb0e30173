// What the tests of the embedded database's files check: that nobody but their owner gets in.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Every entry under `dir` (itself included) whose mode lets its group or others in. */
export async function openToOthers(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (path: string) => {
    const stat = await lstat(path);
    if (stat.mode & 0o077) found.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
  return found;
}
