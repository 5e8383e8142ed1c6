import type { Driver } from './drivers/driver.js';
import { spaceKind } from './context.js';
import type { Quota } from './layers/quota.js';
import { scheduleStats, type ScheduleStats } from './ops/schedule-stats.js';

// What store.stats() and store.names() report: live records only, so the numbers agree with
// what get / list / count return once a TTL has passed (issue 7, defect 6), and a namespace
// emptied by clear() / drop() is gone (defect 8).

/** One namespace's or collection's share of the store. */
export interface SpaceUsage {
  name: string;
  /** Live records: expired ones are not counted, even before the sweeper removes them. */
  records: number;
  bytes: number;
  /** Expired records not yet swept (still on disk), when the driver knows. */
  expired?: number;
  /** The quota declared for it in this process, if any. */
  quota?: Quota;
}

export interface StoreStats {
  driver: string;
  location?: string;
  storageBytes?: number;
  /** Namespaces and collections that hold records (live, or expired and not yet swept). */
  kv: SpaceUsage[];
  collections: SpaceUsage[];
  /** Live records in all of them. */
  records: number;
  bytes: number;
  /** Expired records not yet swept, when the driver knows. */
  expired?: number;
  /** The store-wide quota declared with openStore, if any. */
  quota?: Quota;
  /** Every job scheduled on this store (by any process), its last outcomes and next slot; by name. */
  schedules: ScheduleStats[];
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export async function liveStats(
  driver: Driver,
  now: number,
  quotaOf: (space: string) => Quota | undefined = () => undefined,
): Promise<StoreStats> {
  // The store's clock judges expiry, as for count(): a test clock moved past a TTL counts it expired here too.
  const raw = await driver.stats(now);
  const out: StoreStats = { driver: raw.driver, kv: [], collections: [], records: 0, bytes: 0, schedules: [] };
  if (raw.location !== undefined) out.location = raw.location;
  if (raw.storageBytes !== undefined) out.storageBytes = raw.storageBytes;
  for (const s of raw.spaces) {
    const kind = spaceKind(s.space);
    if (kind === null) continue;
    let { records, expired } = s;
    if (expired === undefined && records > 0) {
      // A driver that does not report `expired` may still count records awaiting the
      // sweeper: count the live ones, so stats() agrees with kv.count() and list().
      const live = await driver.count(s.space, {}, now);
      expired = records - live;
      records = live;
    }
    if (records === 0 && !expired) continue;
    const usage: SpaceUsage = { name: kind.name, records, bytes: s.bytes };
    const quota = quotaOf(s.space);
    if (quota !== undefined) usage.quota = quota;
    if (expired !== undefined) {
      usage.expired = expired;
      out.expired = (out.expired ?? 0) + expired;
    }
    (kind.kind === 'kv' ? out.kv : out.collections).push(usage);
    out.records += records;
    out.bytes += s.bytes;
  }
  out.kv.sort(byName);
  out.collections.sort(byName);
  const storeQuota = quotaOf('*');
  if (storeQuota !== undefined) out.quota = storeQuota;
  out.schedules = await scheduleStats(driver, now);
  return out;
}

export async function liveNames(driver: Driver, now: number): Promise<{ kv: string[]; collections: string[] }> {
  const out = { kv: [] as string[], collections: [] as string[] };
  for (const space of await driver.spaces()) {
    const kind = spaceKind(space);
    if (kind === null) continue;
    // Drivers list declared spaces too; one key read says whether anything live is left.
    const live = await driver.scan(space, { limit: 1, keysOnly: true }, now);
    if (live.length > 0) (kind.kind === 'kv' ? out.kv : out.collections).push(kind.name);
  }
  out.kv.sort(byCodePoint);
  out.collections.sort(byCodePoint);
  return out;
}
