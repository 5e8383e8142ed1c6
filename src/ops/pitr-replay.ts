import type { Driver, RawRecord, StoredRecord, WriteOp } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JOURNAL_SPACE, JOURNAL_STATE_SPACE, seqKey, type JournalEntry } from './journal-entry.js';

/** Records by space, then by key. */
export type SpaceRecords = Map<string, Map<string, StoredRecord>>;

/** A journal entry as the record of `meta.journal` that holds it (what the driver wrote). */
export function entryRecord(entry: JournalEntry): StoredRecord {
  const key = seqKey(entry.seq);
  return { key, value: JSON.stringify(entry), version: 1, createdAt: entry.at, updatedAt: entry.at, expiresAt: null };
}

/**
 * Base records (a backup's) with `entries` applied in order: a put sets the record exactly as
 * it was stored (value as stored, version, timestamps, expiry), a delete removes it. The
 * entries themselves join `meta.journal`, so the result holds its journal up to its point.
 * Pure: `base` is not changed.
 */
export function replayJournal(base: SpaceRecords, entries: readonly JournalEntry[]): SpaceRecords {
  const out: SpaceRecords = new Map([...base].map(([space, records]) => [space, new Map(records)]));
  const space = (name: string): Map<string, StoredRecord> => {
    let records = out.get(name);
    if (records === undefined) out.set(name, (records = new Map()));
    return records;
  };
  for (const e of entries) {
    if (e.record === null) out.get(e.space)?.delete(e.key);
    else space(e.space).set(e.key, { key: e.key, ...e.record });
    space(JOURNAL_SPACE).set(seqKey(e.seq), entryRecord(e));
  }
  return out;
}

/** The last change per key of `entries` (what the replay leaves), in the order last made. */
function finalChanges(entries: readonly JournalEntry[]): JournalEntry[] {
  const last = new Map<string, JournalEntry>();
  for (const e of entries) {
    const id = `${e.space}\u0000${e.key}`;
    last.delete(id);
    last.set(id, e);
  }
  return [...last.values()];
}

/**
 * Applies `entries` (and the restored journal `state`) to a driver holding a backup copy (a
 * restore's scratch store, swapped in whole afterwards): records verbatim with one merge
 * load, then the deletes. Equal to `replayJournal` on that copy's records.
 */
export async function applyJournal(
  driver: Driver,
  entries: readonly JournalEntry[],
  state: StoredRecord,
  now: number,
): Promise<void> {
  const changes = finalChanges(entries);
  function* puts(): Iterable<RawRecord> {
    for (const e of changes) if (e.record !== null) yield { space: e.space, key: e.key, ...e.record };
    for (const e of entries) yield { space: JOURNAL_SPACE, ...entryRecord(e) };
    yield { space: JOURNAL_STATE_SPACE, ...state };
  }
  async function* source(): AsyncIterable<RawRecord> {
    yield* puts();
  }
  if (driver.loadImage === undefined) {
    throw new StrataError('UNSUPPORTED', `the ${driver.name} driver cannot load records verbatim`, { driver: driver.name });
  }
  await driver.loadImage(source(), { mode: 'merge' }, now);
  const deletes: WriteOp[] = changes
    .filter((e) => e.record === null)
    .map((e) => ({ type: 'delete', space: e.space, key: e.key }));
  for (let at = 0; at < deletes.length; at += 1000) await driver.batch(deletes.slice(at, at + 1000), now, { results: false });
}
