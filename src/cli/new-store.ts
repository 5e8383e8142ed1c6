import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Store } from '../store.js';
import { CRYPTO_SPACE } from '../crypto/state.js';
import { JOURNAL_FILE } from '../drivers/file/journal.js';
import { storeLocation } from '../drivers/registry.js';

/** What SQLite may create next to a database file. */
const SQLITE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

/**
 * What opening a store creates where there was none, noted before the open so that a write
 * command that is then refused can take it away: "a failed write leaves the store exactly as
 * it was", and there was no store (a typo in --url must not quietly make one). Only paths
 * that did not exist before the command are ever removed.
 */
export class NewStore {
  private constructor(
    /** The paths the open created: the store's own files or directory, or what it added to an empty directory. */
    private readonly created: () => string[],
    /** Directories made for the store, deepest first: removed too when that leaves them empty. */
    private readonly parents: readonly string[],
  ) {}

  /** `null` when the URL names a store that exists (or one in memory): then nothing is ever removed. */
  static before(url: string): NewStore | null {
    const location = storeLocation(url);
    if (location === null) return null;
    const isDirectory = /^file:/i.test(url);
    if (isDirectory && existsSync(location)) {
      // A directory without journal.log is not a store yet: what the open adds inside it is new.
      if (existsSync(join(location, JOURNAL_FILE))) return null;
      const before = new Set(readdirSync(location));
      const restorePoint = newBackupDirs(location);
      const added = (): string[] => [
        ...readdirSync(location)
          .filter((name) => !before.has(name))
          .map((name) => join(location, name)),
        ...restorePoint.paths,
      ];
      return new NewStore(added, restorePoint.parents);
    }
    if (existsSync(location)) return null;
    const paths = isDirectory ? [location] : SQLITE_SUFFIXES.map((s) => `${location}${s}`).filter((p) => !existsSync(p));
    const restorePoint = newBackupDirs(location);
    return new NewStore(() => [...paths, ...restorePoint.paths], [...restorePoint.parents, ...missingParents(location)]);
  }

  /**
   * Whether the store holds nothing anybody wrote: no record in any space, except the
   * encryption record an open with a keyring writes. Anything else (another process that
   * opened the new store meanwhile and wrote to it) keeps the store where it is.
   */
  static async holdsNothing(store: Store): Promise<boolean> {
    try {
      const now = Date.now();
      for (const space of await store.driver.spaces()) {
        if (space !== CRYPTO_SPACE && (await store.driver.count(space, {}, now)) > 0) return false;
      }
      return true;
    } catch {
      return false; // cannot tell: keep it
    }
  }

  /** Removes what the open created (call once the store is closed). Best effort: the command's own error is what reports. */
  undo(): void {
    try {
      for (const path of this.created()) rmSync(path, { recursive: true, force: true });
    } catch {
      return;
    }
    for (const dir of this.parents) {
      if (!existsSync(dir)) continue; // never made (a backups/ directory nothing was backed up into)
      try {
        rmdirSync(dir); // only when empty: anything else in it was not made for the store
      } catch {
        return;
      }
    }
  }
}

/**
 * The store's default backup directory (`<dir>/backups/<name>/`, see defaultBackupDir) where
 * it does not exist yet: a `migrate up` backs the new store up there before its first step, a
 * backup of nothing made by this command alone. A `backups/` that was there stays.
 */
function newBackupDirs(location: string): { paths: string[]; parents: string[] } {
  const backups = join(dirname(location), 'backups');
  const own = join(backups, basename(location));
  return {
    paths: existsSync(own) ? [] : [own],
    parents: existsSync(backups) ? [] : [backups],
  };
}

/** The ancestors of `path` that do not exist yet (the open makes them), deepest first. */
function missingParents(path: string): string[] {
  const out: string[] = [];
  for (let dir = dirname(path); !existsSync(dir) && dir !== dirname(dir); dir = dirname(dir)) out.push(dir);
  return out;
}
