import { randomBytes } from 'node:crypto';
import { linkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temporary files start with this; snapshot names never do (their leading dots are escaped). */
export const TEMP_PREFIX = '.tmp-';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh temp file's path next to `path`, named by this process (see `tempOwner`). */
function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${basename(path)}`);
}

/**
 * Writes `data` (or its pieces, in order) to a new temp file next to `path` and fsyncs it;
 * returns the temp's path. Temp names carry the writer's pid, so a crashed writer's
 * leftovers can be told from another process's work in progress.
 */
export async function writeTemp(path: string, data: string | Uint8Array | AsyncIterable<string>): Promise<string> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', 0o600);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
    // writeFile on a handle writes from its current position and retries short writes.
    else for await (const piece of data) await handle.writeFile(piece);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  return temp;
}

/**
 * Writes one of the small records naming a process (lock owner, compaction claim) so that it
 * appears whole or not at all: a process killed between creating a file and writing it would
 * otherwise leave an empty record that nobody can judge. Not fsynced: the records describe
 * running processes, which a power cut ends anyway. With `exclusive`, fails with EEXIST when
 * `path` exists (a hard link, which cannot replace a file); else replaces it (a rename).
 */
export function writeSmallFileAtomic(path: string, data: string, exclusive: boolean): void {
  const temp = tempPathFor(path);
  writeFileSync(temp, data, { flag: 'wx', mode: 0o600 });
  try {
    if (exclusive) linkSync(temp, path);
    else renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  if (exclusive) rmSync(temp, { force: true });
}

/** The pid in a temp file's name, or null when it has none. */
export function tempOwner(name: string): number | null {
  const pid = Number(/^\.tmp-(\d+)-/.exec(name)?.[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/**
 * Replaces `path` so that readers, and the disk after a power cut, hold either the old or the
 * whole new content, never a mix: write a temp file in the same directory (so the rename
 * never crosses file systems: no EXDEV fallback needed), fsync it, then rename it over the
 * target. The caller fsyncs the directory once afterwards (`syncDir`) to make the rename
 * itself durable. See https://lwn.net/Articles/457667/ for why each step is needed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = await writeTemp(path, data);
  try {
    await renameWithRetry(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * Windows refuses a rename for a moment while another process (often a virus scanner) has
 * the target open; retry briefly there, as graceful-fs does.
 */
export async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || attempt >= 10 || !(code === 'EPERM' || code === 'EACCES' || code === 'EBUSY'))
        throw error;
      await sleep(10 * (attempt + 1));
    }
  }
}

/** Makes renames and file creations in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals its own metadata.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
