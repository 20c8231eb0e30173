// The embedded database's files hold webhook secrets and key hashes: only the user the
// service runs as may read or write them. PGlite ignores the process's umask: its
// Emscripten file system creates every file through Node with mode 777 and then sets the
// mode PostgreSQL asked for inside WASM, 666 (and 644 for a few), and its folders 755.
// So the data directory is made 700 before PGlite opens it (nobody else can then reach
// any file in it, whatever its mode), every mode PGlite sets or creates with loses its
// group and other bits (files it creates later, as tables and the WAL grow, are 600 from
// the start), and what an older version left open is closed at each start.
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const GROUP_AND_OTHERS = 0o077;

/** The data directory, created or kept, readable and searchable by its owner alone. */
export function ownerOnlyDirectory(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
}

/** Takes group and other bits off everything under `dir` (symbolic links are left alone). */
export function restrictTree(dir: string): void {
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink()) return;
  if (stat.mode & GROUP_AND_OTHERS) chmodSync(dir, stat.mode & 0o777 & ~GROUP_AND_OTHERS);
  if (stat.isDirectory()) for (const name of readdirSync(dir)) restrictTree(join(dir, name));
}

/** The slice of Emscripten's NODEFS node operations that set modes on real files. */
interface NodeOps {
  mknod(parent: unknown, name: string, mode: number, dev: number): unknown;
  setattr(node: unknown, attr: { mode?: number | null }): void;
}

type PGliteModule = { NODEFS?: { node_ops?: Partial<NodeOps> } };

/**
 * Makes every mode the module's NODEFS gives a real file or folder owner-only. Each PGlite
 * instance has a module of its own, so this touches no other. Fails loudly when PGlite no
 * longer has these operations (an upgrade changed it), instead of writing open files.
 */
export function ownerOnlyModes(module: PGliteModule): void {
  const ops = module.NODEFS?.node_ops;
  if (typeof ops?.mknod !== 'function' || typeof ops.setattr !== 'function') {
    throw new Error("PGlite's NODEFS has no mknod/setattr to keep the embedded database's files owner-only: check the PGlite upgrade");
  }
  const { mknod, setattr } = ops as NodeOps;
  ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mode & ~GROUP_AND_OTHERS, dev);
  ops.setattr = (node, attr) => setattr(node, attr.mode == null ? attr : { ...attr, mode: attr.mode & ~GROUP_AND_OTHERS });
}
