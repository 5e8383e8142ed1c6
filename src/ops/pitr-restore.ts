import type { RawRecord, RecordImage } from '../drivers/driver.js';
import { bottomDriver, loadRecords, type ImageStore } from './image.js';
import { planPointInTime, type PitrBase, type PitrPlan } from './pitr.js';
import type { SpaceRecords } from './pitr-replay.js';

/** Every record of an image, by space then key (the base a point-in-time restore replays onto). */
export async function imageRecords(image: RecordImage): Promise<SpaceRecords> {
  const out: SpaceRecords = new Map();
  for await (const { space, ...record } of image) {
    let records = out.get(space);
    if (records === undefined) out.set(space, (records = new Map()));
    records.set(record.key, record);
  }
  return out;
}

function* flatten(records: SpaceRecords): Iterable<RawRecord> {
  for (const [space, byKey] of records) for (const record of byKey.values()) yield { space, ...record };
}

/**
 * A point-in-time restore of `store`: the backup `base` plus the live journal replayed up to
 * `toTime`, planned in full (every gap refused: nothing changes then) and loaded in ONE
 * atomic step (`loadRecords` replace). `dryRun`: the plan only, nothing changed.
 */
export async function restoreToTime(
  store: ImageStore,
  base: PitrBase,
  toTime: number,
  options: { dryRun?: boolean; now: number },
): Promise<PitrPlan> {
  // The journal is read from the LIVE store, below encryption, before it is replaced.
  const { plan, records } = await planPointInTime(bottomDriver(store), base, toTime, options.now);
  if (options.dryRun === true) return plan;
  await loadRecords(store, flatten(records), { mode: 'replace', now: options.now, checkValues: false });
  return plan;
}
