import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
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

/** `.tmp-<pid>-<hex>`: a part or manifest being written by process `<pid>` (see `put`). */
const TEMP = /^\.tmp-(\d+)-[0-9a-f]+$/;
/** A temp file of a process of this machine that no longer runs, untouched this long, is stale. */
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
      const temp = join(dirname(path), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
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
            hint: 'list the backups with `strata backup list`',
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
      let entries;
      try {
        entries = await readdir(root, { recursive: true, withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw notADirectory(error, root);
      }
      for (const entry of entries) {
        if (!entry.isFile() || entry.name.startsWith('.tmp-')) continue;
        const rel = join(entry.parentPath, entry.name)
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

/** Removes the temp files of writers that are gone, and the backup directories they leave empty. */
async function removeStaleTemps(root: string, now = Date.now()): Promise<number> {
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw notADirectory(error, root);
  }
  let removed = 0;
  for (const entry of entries) {
    const pid = TEMP.exec(entry.name)?.[1];
    if (!entry.isFile() || pid === undefined) continue;
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path).catch(() => null);
    if (info === null) continue;
    const age = now - info.mtimeMs;
    const gone = Number(pid) !== process.pid && !pidAlive(Number(pid)) && age > DEAD_WRITER_MS;
    if (!(gone || age > STALE_TEMP_MS)) continue;
    await unlink(path).catch(() => {});
    if (entry.parentPath !== root) rmdirIfEmpty(entry.parentPath);
    removed++;
  }
  return removed;
}
