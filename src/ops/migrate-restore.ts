import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Driver } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { readRun } from './migrate-records.js';
import type { MigrationHost } from './migrate-unit.js';

/**
 * How a run is undone as a whole: a restore point taken before its first step, and a
 * rollback to it. Backed by the store's verified backup and restore. Without them (no
 * backup API in this stack) there is no point: each step is still atomic on its own, but a
 * run that fails at step 3 keeps steps 1 and 2.
 */
export interface RestorePoints {
  /** The point (a backup's path), or `null` when the stack has no backups. */
  take(): Promise<string | null>;
  rollbackTo(point: string): Promise<void>;
  /** Called when the run is over: removes a point kept only for the run (a memory store's). */
  discard(point: string | null): Promise<void>;
}

/** The part of the store's backup API the migrator uses (structural: see Store.backup). */
interface BackupApi {
  backup(options?: { to?: string }): Promise<{ id: string; path: string }>;
  backups: { verify(idOrPath: string): Promise<unknown> };
}

const hasBackups = (store: unknown): store is BackupApi =>
  typeof (store as Partial<BackupApi> | null)?.backup === 'function' &&
  typeof (store as Partial<BackupApi>).backups?.verify === 'function';

const SCRATCH = 'strata-migrate-';

/**
 * Restore points through `store.backup()` (verified with `store.backups.verify`) and
 * `restore` (the store's restore, keeping the live migrator lease: see keepLiveSpaces). A
 * store with a directory keeps the backup with its other backups; one without (memory) gets
 * a temporary directory, removed when the run is over.
 */
export function storeRestorePoints(
  store: unknown,
  restore: (point: string) => Promise<unknown>,
): Pick<MigrationHost, 'backup' | 'restore' | 'discard'> {
  if (!hasBackups(store)) return {};
  return {
    async backup() {
      let made: { path: string };
      try {
        made = await store.backup();
      } catch (error) {
        if (!StrataError.is(error, 'BAD_INPUT')) throw error;
        made = await store.backup({ to: await mkdtemp(join(tmpdir(), SCRATCH)) });
      }
      await store.backups.verify(made.path);
      return { id: made.path };
    },
    async restore(point) {
      await restore(point);
    },
    async discard(point) {
      if (point.startsWith(join(tmpdir(), SCRATCH))) {
        const dir = point.slice(0, join(tmpdir(), SCRATCH).length + 6);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export function restorePoints(host: MigrationHost): RestorePoints {
  return {
    async take() {
      if (host.backup === undefined) return null;
      return (await host.backup()).id;
    },
    async rollbackTo(point) {
      if (host.restore === undefined) {
        throw new StrataError('UNSUPPORTED', 'store.migrate: this store cannot restore the backup taken before the run', {
          op: 'store.migrate',
        });
      }
      await host.restore(point);
    },
    async discard(point) {
      if (point !== null) await host.discard?.(point).catch(() => {});
    },
  };
}

/**
 * The ids of the backups an unfinished migration run still needs: the restore point its run
 * record names (a live run's, or a dead one's that the next `migrate` restores). Pruning one
 * of them would leave that run impossible to undo, so `backups.prune` keeps them whatever its
 * rules say. The record holds the backup's directory, named by its id; the id is returned.
 * A damaged run record is CORRUPT: which backup it needs is then unknown, and guessing could
 * delete it.
 */
export async function restorePointsInUse(store: { readonly driver: Driver }): Promise<string[]> {
  const run = await readRun(store.driver, Date.now());
  if (run === null || typeof run.backup !== 'string' || run.backup === '') return [];
  return [basename(run.backup)];
}
