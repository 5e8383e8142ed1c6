import { randomUUID } from 'node:crypto';
import { parseJson } from '../codec/json.js';
import type { Driver, RawRecord, StoredRecord } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { bottomDriver } from './image.js';
import { JOURNAL_LOADS_SPACE, JOURNAL_SPACE, seqKey } from './journal-entry.js';
import { readJournalState } from './journal-state.js';

/**
 * Marks of whole loads (`store.import`) of a journaled store: a load writes its records
 * verbatim in one atomic step, without journal entries, so the journal cannot bring a backup
 * taken before it past it. Each load writes one mark in the same atomic step: key
 * `<seq>.<uuid>`, value `{ seq, at, op }`, where `seq` is the newest entry committed before
 * the load (at most: the load commits after it, so a replay up to `seq` is wholly before
 * the load). A point-in-time restore refuses to replay past a mark its backup lacks.
 */
export const LOADS_SPACE = JOURNAL_LOADS_SPACE;

export interface LoadMark {
  seq: number;
  /** When the load was made, epoch ms. */
  at: number;
  /** `'store.import'`, or `'store.restore'` (see `restoreMark`). */
  op: string;
  /** A restore's: the point in time it went back to (the backup's time, or its `toTime`). */
  from?: number;
}

/** The op of a restore's mark: the store went back to `from` at `at`, undoing what lay between. */
export const RESTORE_OP = 'store.restore';

/**
 * The mark of a restore (with or without `toTime`) for the copy about to replace the store:
 * at `at` the store went back to the point `from`, its journal to entry `seq`. What the store
 * held between `from` and `at` is no longer in its journal: a later point-in-time restore to a
 * time in between is refused rather than answered with the state at `from`.
 */
export function restoreMark(seq: number, at: number, from: number): RawRecord {
  return markRecord({ seq, at, op: RESTORE_OP, from });
}

/**
 * The record that holds `mark`, under a key unique to it that sorts by its seq. Marks are
 * never pruned with the journal: `seq` is a lower bound (entries committed after it was read
 * may still precede the load), so a backup taken just before the load can hold a journalSeq
 * above the mark's and still be replayable from the pruned journal's start; without the mark
 * its replay would cross the load unnoticed. One small record per load or restore.
 */
function markRecord(mark: LoadMark): RawRecord {
  const key = `${seqKey(mark.seq)}.${randomUUID()}`;
  const { at } = mark;
  return { space: LOADS_SPACE, key, value: JSON.stringify(mark), version: 1, createdAt: at, updatedAt: at, expiresAt: null };
}

/** The newest entry's seq (0: none), read from the journal's start and its count: never above the true one. */
async function headSeq(driver: Driver, now: number): Promise<number> {
  const loaded = await readJournalState(driver, now);
  const count = await driver.count(JOURNAL_SPACE, {}, now);
  return Math.max(0, (loaded?.state.start ?? 1) + count - 1);
}

/**
 * `source` followed by the mark of this load when the store keeps a journal (read from the
 * store, so also in a process that opened it before the journal was turned on); `source`
 * alone otherwise. The mark is read at the end of the source, right before the load commits,
 * and committed with it.
 */
export function withLoadMark(
  stack: Driver,
  source: AsyncIterable<RawRecord>,
  op: string,
  now: () => number,
): AsyncIterable<RawRecord> {
  const raw = bottomDriver(stack);
  return (async function* marked() {
    yield* source;
    const at = now();
    if ((await readJournalState(raw, at)) === null) return;
    yield markRecord({ seq: await headSeq(raw, at), at, op });
  })();
}

function damaged(key: string): StrataError {
  return new StrataError('CORRUPT', `the journal's load mark ${key} (${LOADS_SPACE}) is damaged`, {
    hint: 'point-in-time restore cannot tell where that load was; restore a backup without toTime',
    details: { space: LOADS_SPACE, key },
  });
}

/** Parses a stored mark (CORRUPT when it is not one). */
export function parseLoadMark(record: StoredRecord): LoadMark {
  let raw: Partial<LoadMark>;
  try {
    raw = parseJson(record.value) as Partial<LoadMark>;
  } catch {
    throw damaged(record.key);
  }
  const ok =
    raw !== null &&
    typeof raw === 'object' &&
    Number.isSafeInteger(raw.seq) &&
    raw.seq! >= 0 &&
    Number.isSafeInteger(raw.at) &&
    typeof raw.op === 'string' &&
    (raw.op === RESTORE_OP ? Number.isFinite(raw.from) : raw.from === undefined) &&
    record.key.startsWith(`${seqKey(raw.seq!)}.`);
  if (!ok) throw damaged(record.key);
  return { seq: raw.seq!, at: raw.at!, op: raw.op!, ...(raw.from === undefined ? {} : { from: raw.from }) };
}

/** Every load mark of the live store (`driver` below encryption), oldest first. */
export async function loadMarks(
  driver: Driver,
  now: number,
): Promise<Array<{ key: string; mark: LoadMark; record: StoredRecord }>> {
  if (!(await driver.spaces()).includes(LOADS_SPACE)) return [];
  return (await driver.scan(LOADS_SPACE, {}, now)).map((record) => ({ key: record.key, mark: parseLoadMark(record), record }));
}
