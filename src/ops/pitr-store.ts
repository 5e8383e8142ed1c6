import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkOptions } from '../codec/options.js';
import { StrataError } from '../errors.js';
import { listBackups, restoreBackup, type RestoreOptions, type RestoreResult } from './backup.js';
import { MANIFEST } from './backup-format.js';
import { bottomDriver, type ImageStore } from './image.js';
import { parseToTime, planReplay, type PitrPlan } from './pitr.js';
import { applyJournal } from './pitr-replay.js';

/** `store.restore(backup, { toTime })`'s result: the restore's, plus what the journal replayed. */
export interface PointInTimeResult extends RestoreResult {
  pointInTime: PitrPlan;
}

/** A directory of backups (no manifest of its own) rather than one backup. */
function isBackupDir(ref: string): boolean {
  return existsSync(ref) && statSync(ref).isDirectory() && !existsSync(join(ref, MANIFEST));
}

/** The newest intact backup in `dir` taken at or before `toTime` (its path). */
async function newestAtOrBefore(store: ImageStore, dir: string, toTime: number, op: string): Promise<string> {
  for (const b of await listBackups(store, { dir })) {
    if (!('damaged' in b) && b.at.getTime() <= toTime) return b.path;
  }
  throw new StrataError('NOT_FOUND', `${op}: no backup in ${dir} was taken at or before ${new Date(toTime).toISOString()}`, {
    op,
    hint: 'list them with `strata backup list`, and pass a later toTime or an older backup',
  });
}

/**
 * Point-in-time restore: the backup (`ref`, or for a directory of backups the newest at or
 * before `toTime`), rebuilt and checked in scratch space by `restoreBackup`, plus the LIVE
 * store's journal replayed onto that scratch copy up to `toTime`, swapped in as ONE atomic
 * step. Everything is planned and checked before the swap: any gap (docs/journal.md) is
 * refused and the live store is untouched. `dryRun` reports the plan and changes nothing.
 */
export async function restoreToPointInTime(
  store: ImageStore,
  ref: string,
  options: RestoreOptions,
  now: number,
): Promise<PointInTimeResult> {
  const op = 'store.restore';
  checkOptions(options, ['dir', 'dryRun', 'toTime', 'onProgress'], op);
  const toTime = parseToTime(options.toTime, op);
  const dryRun = options.dryRun === true;
  const chosen =
    typeof ref === 'string' && options.dir === undefined && isBackupDir(ref)
      ? await newestAtOrBefore(store, ref, toTime, op)
      : ref;
  // Read below encryption and below the journal layer: entries and values exactly as stored.
  const live = bottomDriver(store);
  let plan: PitrPlan | undefined;
  const { toTime: _toTime, ...rest } = options;
  const result = await restoreBackup(
    store,
    chosen,
    {
      ...rest,
      prepare: async (scratch) => {
        const m = scratch.manifest;
        const replay = await planReplay(
          live,
          { at: m.at, journalSeq: m.journalSeq ?? 0, read: (space, key) => scratch.driver.get(space, key, now) },
          toTime,
          now,
        );
        plan = replay.plan;
        if (!dryRun) await applyJournal(scratch.driver, replay.entries, replay.state, now);
      },
    },
    now,
  );
  return { ...result, pointInTime: plan! };
}
