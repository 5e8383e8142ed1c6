import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmdirSync, rmSync, statSync, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StrataError } from '../errors.js';
import { pidAlive } from '../drivers/file/lock.js';

/**
 * Where backups are kept: named objects, written and read as streams. A backup is the
 * objects `<id>/<part>` plus `<id>/manifest.json`, written last: a backup without its
 * manifest is incomplete and never restored. Object names are `/`-separated, made of
 * `[A-Za-z0-9._-]` segments. The local directory is the one implementation today; an S3
 * target implements the same five methods (a `put` there is atomic per object too).
 */
export interface BackupTarget {
  /** Shown in messages, e.g. `local:/var/backups/app`. */
  readonly name: string;
  /** Stores `data` under `name`, replacing any object of that name; visible whole or not at all. */
  put(name: string, data: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ bytes: number }>;
  /** The object's bytes; NOT_FOUND when there is none. */
  get(name: string): Promise<Readable>;
  /** Size in bytes, or `null` when there is no such object. */
  size(name: string): Promise<number | null>;
  /** Names of every object whose name starts with `prefix`, sorted. */
  list(prefix?: string): Promise<string[]>;
  /** Removes the object (no error when it is already gone). */
  delete(name: string): Promise<void>;
  /** A local path for a whole backup `<id>` when the target has one (shown as `path`). */
  pathOf?(id: string): string;
  /**
   * Removes what writers that are gone left behind (a killed backup's partial part, which
   * `list` never shows); returns how many. Optional: a target whose `put` is atomic has none.
   */
  clean?(): Promise<number>;
}

let exitCleanups: Set<() => void> | undefined;

/**
 * Runs `cleanup` (synchronous) if the process exits before the returned `done` is called.
 * For temp files that must not outlive an interrupted write: `process.exit` (the CLI's
 * Ctrl-C) runs 'exit' handlers but no `finally`. Shared by backups and exports.
 */
export function removeAtExit(cleanup: () => void): () => void {
  if (exitCleanups === undefined) {
    const cleanups = new Set<() => void>();
    process.once('exit', () => {
      for (const run of cleanups) {
        try {
          run();
        } catch {
          // best effort: the process is ending
        }
      }
    });
    exitCleanups = cleanups;
  }
  const set = exitCleanups;
  set.add(cleanup);
  return () => set.delete(cleanup);
}

/**
 * `.tmp-<pid>-<hex>`: a part or manifest being written by process `<pid>` (see `put`). The hex
 * is `HOST_TAG` then random: a pid says whether its writer still runs only on the machine it
 * ran on, and a backup directory may be shared by several machines (older versions wrote the
 * random part alone).
 */
const TEMP = /^\.tmp-(\d+)-([0-9a-f]+)$/;
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
const RANDOM_BYTES = 6;
const tempName = (): string => `.tmp-${process.pid}-${HOST_TAG}${randomBytes(RANDOM_BYTES).toString('hex')}`;
/**
 * A temp file of a process that does not run here, not written by this machine (or by an
 * older version, which did not say), untouched this long, is stale: its writer may still run
 * elsewhere, and a live writer touches its file far more often than this.
 */
const DEAD_WRITER_MS = 60_000;
/** Any temp file untouched this long is stale (its writer may have run on another machine). */
const STALE_TEMP_MS = 3600_000;

const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function checkObjectName(name: string, target: string): void {
  const parts = name.split('/');
  if (name === '' || parts.some((p) => !SEGMENT.test(p) || p === '.' || p === '..')) {
    throw new StrataError('BAD_INPUT', `backup object name ${JSON.stringify(name)} is not valid for ${target}`, {
      hint: 'use /-separated names of letters, digits, ".", "_" and "-"',
    });
  }
}

async function syncPath(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * ENOTDIR (a file where a directory of the path should be) and EEXIST from mkdir (the root
 * itself is a file): the caller named a file for the backups directory, which no retry
 * fixes, so BAD_INPUT rather than the generic UNAVAILABLE. Other errors are returned as they are.
 */
function notADirectory(error: unknown, root: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ENOTDIR' && code !== 'EEXIST') return error;
  if (isDirectory(root)) return error; // something inside the root is in the way, not the root
  return new StrataError('BAD_INPUT', `backups: ${root} is not a directory (a file is in its place)`, {
    cause: error,
    hint: 'name a directory for the backups: to / dir (CLI: --to for backup create, --dir for the others)',
    details: { dir: root },
  });
}

/**
 * A directory of backups. Files are written 0600 into 0700 directories as temp file +
 * fsync + rename + directory fsync, so a crash leaves the old object or the new one.
 */
export function localTarget(dir: string): BackupTarget {
  const root = resolve(dir);
  const name = `local:${root}`;
  const pathOf = (object: string): string => {
    checkObjectName(object, name);
    const path = join(root, ...object.split('/'));
    if (!path.startsWith(root + sep)) throw new StrataError('BAD_INPUT', `backup object ${object} is outside ${root}`);
    return path;
  };
  return {
    name,
    async put(object, data) {
      const path = pathOf(object);
      const made = await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((error: unknown) => {
        throw notADirectory(error, root);
      });
      // A new directory's entry lives in its parent: synced too, or a power loss could drop a
      // finished backup's whole `<id>/` directory (the rename below syncs only `<id>/` itself).
      if (made !== undefined) {
        for (let dir = dirname(path); dir !== dirname(made); dir = dirname(dir)) await syncPath(dirname(dir));
      }
      const temp = join(dirname(path), tempName());
      const done = removeAtExit(() => {
        rmSync(temp, { force: true });
        if (made !== undefined) rmdirIfEmpty(dirname(temp));
      });
      let bytes = 0;
      try {
        const out = createWriteStream(temp, { flags: 'wx', mode: 0o600 });
        async function* counted(): AsyncIterable<Uint8Array> {
          for await (const chunk of data as AsyncIterable<Uint8Array>) {
            bytes += chunk.length;
            yield chunk;
          }
        }
        await pipeline(Readable.from(counted()), out);
        await syncPath(temp);
        await rename(temp, path);
        await syncPath(dirname(path));
      } catch (error) {
        await unlink(temp).catch(() => {});
        throw error;
      } finally {
        done();
      }
      return { bytes };
    },
    async get(object) {
      const path = pathOf(object);
      try {
        const found = await stat(path);
        if (!found.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new StrataError('NOT_FOUND', `no backup object ${object} in ${name}`, {
            hint: 'list the backups with store.backups.list() (CLI: strata backup list)',
            details: { object },
          });
        }
        throw notADirectory(error, root);
      }
      return createReadStream(path);
    },
    async size(object) {
      try {
        const found = await stat(pathOf(object));
        return found.isFile() ? found.size : null;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw notADirectory(error, root);
      }
    },
    async list(prefix = '') {
      const out: string[] = [];
      for (const file of await filesUnder(root)) {
        if (file.name.startsWith('.tmp-')) continue;
        const rel = join(file.dir, file.name)
          .slice(root.length + 1)
          .split(sep)
          .join('/');
        if (rel.startsWith(prefix)) out.push(rel);
      }
      return out.sort();
    },
    async delete(object) {
      const path = pathOf(object);
      await rm(path, { force: true });
      // Empty backup directories go with their last object.
      await rmdir(dirname(path)).catch(() => {});
    },
    pathOf(id) {
      return dirname(pathOf(`${id}/x`));
    },
    clean: () => removeStaleTemps(root),
  };
}

function rmdirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (other parts are there) or already gone
  }
}

const isGone = (error: unknown): boolean => (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/**
 * Every file under `root` (none when it does not exist). Not `readdir({ recursive })`: that
 * fails as a whole with ENOENT when another process (a prune) removes a backup directory
 * while it walks, and a backup removed meanwhile is only a backup fewer.
 */
async function filesUnder(root: string): Promise<Array<{ dir: string; name: string }>> {
  const out: Array<{ dir: string; name: string }> = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isGone(error)) return;
      if (dir === root) throw notADirectory(error, root);
      throw error;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else if (entry.isFile()) out.push({ dir, name: entry.name });
    }
  };
  await walk(root);
  return out;
}

/** Whether the writer of a temp file is gone for good, so the file only takes space. */
function abandoned(name: string, untouchedMs: number): boolean {
  const [, pid, hex] = TEMP.exec(name) ?? [];
  if (pid === undefined || hex === undefined) return false;
  if (untouchedMs > STALE_TEMP_MS) return true;
  if (Number(pid) === process.pid || pidAlive(Number(pid))) return false;
  // A process of this machine that no longer runs writes nothing more: no need to wait.
  const ours = hex.length === HOST_TAG.length + 2 * RANDOM_BYTES && hex.startsWith(HOST_TAG);
  return ours || untouchedMs > DEAD_WRITER_MS;
}

/** Removes the temp files of writers that are gone, and the backup directories they leave empty. */
async function removeStaleTemps(root: string, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const file of await filesUnder(root)) {
    if (!TEMP.test(file.name)) continue;
    const path = join(file.dir, file.name);
    const info = await stat(path).catch(() => null);
    if (info === null || !abandoned(file.name, now - info.mtimeMs)) continue;
    await unlink(path).catch(() => {});
    if (file.dir !== root) rmdirIfEmpty(file.dir);
    removed++;
  }
  return removed;
}
