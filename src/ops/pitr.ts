import type { Driver, StoredRecord } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { JOURNAL_SPACE, JOURNAL_STATE_KEY, JOURNAL_STATE_SPACE, parseEntry, seqKey, type JournalHead } from './journal-entry.js';
import { readJournalAfter } from './journal-read.js';
import { parseJournalState } from './journal-state.js';
import { replayJournal, type SpaceRecords } from './pitr-replay.js';

/** What a point-in-time restore starts from: a backup's records and where it stands. */
export interface PitrBase {
  /** Every record of the backup, below encryption (values as stored). */
  records: SpaceRecords;
  /** When the backup was taken, epoch ms. */
  at: number;
  /** The highest journal seq the backup holds (its manifest's `journalSeq`; 0: none). */
  journalSeq: number;
}

/** What a point-in-time restore does (what `dryRun` reports). */
export interface PitrPlan {
  /** When the backup used was taken. */
  backupAt: number;
  toTime: number;
  /** Journal entries replayed onto the backup. */
  entries: number;
  /** Seq range replayed (`fromSeq > toSeq` when none is). */
  fromSeq: number;
  toSeq: number;
  /** Time of the first and last replayed entry, `null` when none is. */
  firstAt: number | null;
  lastAt: number | null;
}

function bad(message: string, hint: string, details?: Record<string, unknown>): StrataError {
  return new StrataError('BAD_INPUT', message, { hint, ...(details ? { details } : {}) });
}

/** The time `toTime` names (a Date, epoch ms or an ISO date string), else BAD_INPUT. */
export function parseToTime(value: unknown, op: string): number {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\d{4}-\d\d-\d\d/.test(value)
          ? Date.parse(value)
          : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new StrataError('BAD_INPUT', `${op}: toTime must be a date (a Date, epoch ms or an ISO 8601 string)`, {
      op,
      hint: "pass toTime: new Date('2026-12-01T10:00:00Z')",
    });
  }
  return ms;
}

/** The newest entry a backup holds, or null; CORRUPT when its manifest names one it lacks. */
function anchorOf(base: PitrBase): JournalHead | null {
  if (base.journalSeq === 0) return null;
  const record = base.records.get(JOURNAL_SPACE)?.get(seqKey(base.journalSeq));
  if (record === undefined) {
    throw new StrataError('CORRUPT', `the backup's journal lacks its own last entry (seq ${base.journalSeq})`, {
      hint: 'use another backup',
      details: { seq: base.journalSeq },
    });
  }
  const entry = parseEntry(record.key, record.value);
  return { seq: entry.seq, hash: entry.hash };
}

/**
 * Plans a point-in-time restore: the backup's records with the LIVE store's journal replayed
 * from the backup's point up to `toTime` (see `readJournalAfter` for every gap refused).
 * `live` is the store's driver below encryption. Changes nothing: the caller loads the
 * resulting records in one atomic step, or only reports the plan (`dryRun`).
 */
export async function planPointInTime(
  live: Driver,
  base: PitrBase,
  toTime: number,
  now: number,
): Promise<{ plan: PitrPlan; records: SpaceRecords }> {
  if (toTime > now) {
    throw bad('toTime is in the future: the journal ends now', 'pass a toTime at or before now');
  }
  if (toTime < base.at) {
    throw bad(
      `toTime is before the backup was taken (${new Date(base.at).toISOString()})`,
      'use an older backup, or a later toTime',
      {
        backupAt: base.at,
      },
    );
  }
  const imageState = base.records.get(JOURNAL_STATE_SPACE)?.get(JOURNAL_STATE_KEY);
  if (imageState === undefined) {
    throw new StrataError(
      'NOT_FOUND',
      'the backup was taken before the store kept a journal: no point in time after it can be rebuilt',
      {
        hint: 'restore it without toTime, or use a backup taken since the journal was turned on',
      },
    );
  }
  const start = parseJournalState(imageState.value).start;
  const slice = await readJournalAfter(live, anchorOf(base), toTime, now);
  const records = replayJournal(base.records, slice.entries);
  const state: StoredRecord = {
    key: JOURNAL_STATE_KEY,
    value: JSON.stringify({ ...slice.state, start }),
    version: 1,
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
  };
  records.set(JOURNAL_STATE_SPACE, new Map([[JOURNAL_STATE_KEY, state]]));
  const first = slice.entries[0];
  const last = slice.entries.at(-1);
  return {
    plan: {
      backupAt: base.at,
      toTime,
      entries: slice.entries.length,
      fromSeq: base.journalSeq + 1,
      toSeq: last?.seq ?? base.journalSeq,
      firstAt: first?.at ?? null,
      lastAt: last?.at ?? null,
    },
    records,
  };
}
