import { headOf, JOURNAL_SPACE, journalRecords } from '../ops/journal-entry.js';
import type { StoredRecord } from './driver.js';
import type { Mutation } from './memory-state.js';
import type { RecordMap } from './record-map.js';

/** The newest entry of a journal space held in memory (its last live key in key order). */
export function newestEntry(records: RecordMap | undefined): StoredRecord | undefined {
  if (records === undefined) return undefined;
  const keys = records.sortedKeys();
  for (let i = keys.length - 1; i >= 0; i--) {
    const record = records.get(keys[i]!);
    if (record !== undefined) return record;
  }
  return undefined;
}

/**
 * The mutations that append the journal entries of a batch's `mutations` (a `journal` op):
 * numbered on from the newest entry of `journal`, the state the batch is planned against.
 */
export function journalMutations(journal: RecordMap | undefined, mutations: readonly Mutation[], now: number): Mutation[] {
  const newest = newestEntry(journal);
  const head = headOf(newest?.key, newest?.value);
  return journalRecords(mutations, head, now).map(({ key, value }) => ({
    space: JOURNAL_SPACE,
    key,
    record: { key, value, version: 1, createdAt: now, updatedAt: now, expiresAt: null },
  }));
}
