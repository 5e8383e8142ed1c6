import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Creates a new store file complete, never empty: the schema is written (in WAL mode) to a
 * temporary file in the same directory, which is closed (SQLite then checkpoints and removes
 * its -wal/-shm), fsynced, and linked into place, then the directory is fsynced. A process
 * killed on the way leaves no store file or a complete one, so an empty store file always
 * means lost contents (CORRUPT). `link` fails when the name exists, so when several
 * processes create the same store at once exactly one file wins and all of them open it.
 * The temporary file of a killed creator stays behind as `.<name>.new-<pid>-<random>`.
 */
export function createStoreFile(path: string, initialise: (db: Database.Database) => void): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.new-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(temp, 'wx', 0o600));
    const db = new Database(temp, { fileMustExist: true });
    try {
      initialise(db);
    } finally {
      db.close();
    }
    const fd = openSync(temp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    publish(temp, path);
    syncDirectory(dir);
  } finally {
    for (const file of [temp, `${temp}-wal`, `${temp}-shm`]) rmSync(file, { force: true });
  }
}

/** Moves `temp` to `path` unless `path` exists (then another process won and `temp` is dropped). */
function publish(temp: string, path: string): void {
  try {
    linkSync(temp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    // File systems without hard links: rename, which replaces; only when nothing is there yet.
    if ((code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'ENOSYS') && !existsSync(path)) {
      renameSync(temp, path);
      return;
    }
    throw error;
  }
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
