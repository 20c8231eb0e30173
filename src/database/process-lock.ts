// The embedded database is a single-process database: a second process opening the same
// files would corrupt them. The lock is a local socket the owning process listens on, so
// the kernel releases it when that process dies, however it dies: a restart right after
// a crash or an OOM kill finds it free at once, where a lock file would still be there,
// looking taken, until it went stale.
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where the lock of `dataDir` listens: one name per absolute directory. */
function lockAddress(dataDir: string): { path: string; leavesFile: boolean } {
  const name = `flow-run-gateway-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 32)}`;
  // Linux's abstract namespace and Windows' pipes leave nothing behind on disk.
  if (process.platform === 'linux') return { path: `\0${name}`, leavesFile: false };
  if (process.platform === 'win32') return { path: `\\\\.\\pipe\\${name}`, leavesFile: false };
  return { path: join(tmpdir(), `${name}.sock`), leavesFile: true };
}

const listen = (server: Server, path: string) =>
  new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen({ path, exclusive: true }, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });

/** Whether a process answers on the socket file (a file left by a dead one does not). */
const answers = (path: string) =>
  new Promise<boolean>((resolvePromise) => {
    const socket = createConnection({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });

/**
 * Takes the lock of `dataDir` for this process; resolves with its release, or with
 * undefined when a live process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<(() => Promise<void>) | undefined> {
  const { path, leavesFile } = lockAddress(dataDir);
  const server = createServer((socket) => socket.destroy());
  try {
    await listen(server, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    if (!leavesFile || (await answers(path))) return undefined;
    // A socket file whose owner died: nobody listens, so it is ours to replace.
    await unlink(path).catch(() => {});
    try {
      await listen(server, path);
    } catch (retry) {
      if ((retry as NodeJS.ErrnoException).code === 'EADDRINUSE') return undefined;
      throw retry;
    }
  }
  // The lock must not keep an otherwise finished process alive.
  server.unref();
  return () => new Promise<void>((resolvePromise) => server.close(() => resolvePromise()));
}
