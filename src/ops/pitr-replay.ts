import type { StoredRecord } from '../drivers/driver.js';
import { JOURNAL_SPACE, seqKey, type JournalEntry } from './journal-entry.js';

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
