import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkOptions } from '../codec/options.js';
import { StrataError } from '../errors.js';
import { restoreBackup, RESTORE_OPTIONS, scanBackupDir, type RestoreOptions, type RestoreResult } from './backup.js';
import { MANIFEST } from './backup-format.js';
import { bottomDriver, type ImageStore } from './image.js';
import { firstAfterIn, liveJournal, marksAfterRestore, parseToTime, planReplay, type PitrPlan, type PitrSource } from './pitr.js';
import { applyJournal } from './pitr-replay.js';

/** `store.restore(backup, { toTime })`'s result: the restore's, plus what the journal replayed. */
export interface PointInTimeResult extends RestoreResult {
  pointInTime: PitrPlan;
}

/** A directory of backups (no manifest of its own) rather than one backup. */
function isBackupDir(ref: string): boolean {
  return existsSync(ref) && statSync(ref).isDirectory() && !existsSync(join(ref, MANIFEST));
}

/** The backups in `dir` restore takes, taken at or before `toTime`, newest first (their paths). */
async function candidatesAtOrBefore(store: ImageStore, dir: string, toTime: number, op: string): Promise<string[]> {
  const paths: string[] = [];
  for (const { info, restorable } of await scanBackupDir(store, dir, op)) {
    if (restorable && !('damaged' in info) && info.at.getTime() <= toTime) paths.push(info.path);
  }
  if (paths.length > 0) return paths;
  throw new StrataError('NOT_FOUND', `${op}: no backup in ${dir} was taken at or before ${new Date(toTime).toISOString()}`, {
    op,
    hint: 'list them with store.backups.list() (CLI: strata backup list), and pass a later toTime (CLI: --to-time <time>) or an older backup',
  });
}

/** A backup that holds a change made after toTime (see `planReplay`): an older one may still do. */
const holdsLater = (error: unknown): boolean =>
  StrataError.is(error, 'BAD_INPUT') && error.details?.reason === 'backup-after-toTime';

/**
 * Point-in-time restore: the backup (`ref`, or for a directory of backups the newest at or
 * before `toTime` that holds no change made after it), rebuilt and checked in scratch space
 * by `restoreBackup`, plus the LIVE store's journal replayed onto that scratch copy up to
 * `toTime`, swapped in as ONE atomic step. Everything is planned and checked before the
 * swap: any gap (docs/journal.md) is refused and the live store is untouched. `dryRun`
 * reports the plan and changes nothing.
 */
export async function restoreToPointInTime(
  store: ImageStore,
  ref: string,
  options: RestoreOptions,
  now: number,
): Promise<PointInTimeResult> {
  const op = 'store.restore';
  checkOptions(options, RESTORE_OPTIONS, op);
  const toTime = parseToTime(options.toTime, op);
  // Before any backup is looked at: without a journal no backup and no toTime can help.
  await liveJournal(bottomDriver(store), now);
  // One reading of every option (own or inherited), so the replay and the swap agree on them.
  const given: RestoreOptions = {};
  for (const key of ['dir', 'dryRun', 'onProgress'] as const) {
    if (options[key] !== undefined) Object.assign(given, { [key]: options[key] });
  }
  const fromDir = typeof ref === 'string' && given.dir === undefined && isBackupDir(ref);
  const candidates = fromDir ? await candidatesAtOrBefore(store, ref, toTime, op) : [ref];
  for (let i = 0; ; i++) {
    try {
      return await restoreOne(store, candidates[i]!, given, toTime, now);
    } catch (error) {
      if (!holdsLater(error)) throw error;
      if (i + 1 < candidates.length) continue;
      if (!fromDir) throw error;
      throw new StrataError(
        'NOT_FOUND',
        `${op}: no backup in ${ref} can give the state at ${new Date(toTime).toISOString()}: each one taken at or before it holds a change made after it`,
        {
          op,
          hint: 'pass a later toTime (CLI: --to-time <time>), or restore from a directory that holds an older backup',
          cause: error,
        },
      );
    }
  }
}

async function restoreOne(
  store: ImageStore,
  chosen: string,
  options: RestoreOptions,
  toTime: number,
  now: number,
): Promise<PointInTimeResult> {
  // `options` holds no toTime: restoreBackup refuses one (the journal is applied here).
  const dryRun = options.dryRun === true;
  // Read below encryption and below the journal layer: entries and values exactly as stored.
  const live = bottomDriver(store);
  let plan: PitrPlan | undefined;
  const result = await restoreBackup(
    store,
    chosen,
    {
      ...options,
      prepare: async (scratch) => {
        const m = scratch.manifest;
        const source: PitrSource = {
          at: m.at,
          journalSeq: m.journalSeq ?? 0,
          read: (space, key) => scratch.driver.get(space, key, now),
          firstAfter: (time) => firstAfterIn(scratch.driver, time, now),
        };
        const replay = await planReplay(live, source, toTime, now);
        plan = replay.plan;
        if (dryRun) return;
        await applyJournal(scratch.driver, replay.entries, replay.state, now);
        const marks = await marksAfterRestore(live, source, replay.plan, now);
        await scratch.driver.batch(
          marks.map(({ space, key, value }) => ({ type: 'put', space, key, value, expiresAt: null })),
          now,
          { results: false },
        );
      },
    },
    now,
  );
  return { ...result, pointInTime: plan! };
}
