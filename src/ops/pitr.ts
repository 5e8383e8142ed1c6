import type { Driver, StoredRecord } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import {
  JOURNAL_SPACE,
  JOURNAL_STATE_KEY,
  JOURNAL_STATE_SPACE,
  parseEntry,
  seqKey,
  type JournalEntry,
  type JournalHead,
} from './journal-entry.js';
import { readJournalAfter } from './journal-read.js';
import { parseJournalState } from './journal-state.js';
import { replayJournal, type SpaceRecords } from './pitr-replay.js';

/** Where a backup stands, and how to read one of its records (below encryption). */
export interface PitrSource {
  /** When the backup was taken, epoch ms. */
  at: number;
  /** The highest journal seq the backup holds (its manifest's `journalSeq`; 0: none). */
  journalSeq: number;
  read(space: string, key: string): Promise<StoredRecord | null>;
}

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
async function anchorOf(base: PitrSource): Promise<JournalHead | null> {
  if (base.journalSeq === 0) return null;
  const record = await base.read(JOURNAL_SPACE, seqKey(base.journalSeq));
  if (record === null) {
    throw new StrataError('CORRUPT', `the backup's journal lacks its own last entry (seq ${base.journalSeq})`, {
      hint: 'use another backup',
      details: { seq: base.journalSeq },
    });
  }
  const entry = parseEntry(record.key, record.value);
  return { seq: entry.seq, hash: entry.hash };
}

/** A `PitrSource` over records held in memory. */
export function recordsSource(base: PitrBase): PitrSource {
  return { at: base.at, journalSeq: base.journalSeq, read: async (space, key) => base.records.get(space)?.get(key) ?? null };
}

/** What replaying onto a backup takes: the entries, checked, and the journal state the result holds. */
export interface PitrReplay {
  plan: PitrPlan;
  entries: JournalEntry[];
  /** The `meta.journal-state` record of the restored store. */
  state: StoredRecord;
}

/**
 * Plans a point-in-time restore: the LIVE store's journal from the backup's point up to
 * `toTime` (see `readJournalAfter` for every gap refused). `live` is the store's driver
 * below encryption. Changes nothing: the caller applies the entries to the backup and
 * swaps it in in one atomic step, or only reports the plan (`dryRun`).
 */
export async function planReplay(live: Driver, base: PitrSource, toTime: number, now: number): Promise<PitrReplay> {
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
  const imageState = await base.read(JOURNAL_STATE_SPACE, JOURNAL_STATE_KEY);
  if (imageState === null) {
    throw new StrataError(
      'NOT_FOUND',
      'the backup was taken before the store kept a journal: no point in time after it can be rebuilt',
      {
        hint: 'restore it without toTime, or use a backup taken since the journal was turned on',
      },
    );
  }
  const start = parseJournalState(imageState.value).start;
  const slice = await readJournalAfter(live, await anchorOf(base), toTime, now);
  const state: StoredRecord = {
    key: JOURNAL_STATE_KEY,
    value: JSON.stringify({ ...slice.state, start }),
    version: 1,
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
  };
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
    entries: slice.entries,
    state,
  };
}

/** `planReplay` onto records held in memory: the plan and the records of the restored store. */
export async function planPointInTime(
  live: Driver,
  base: PitrBase,
  toTime: number,
  now: number,
): Promise<{ plan: PitrPlan; records: SpaceRecords }> {
  const replay = await planReplay(live, recordsSource(base), toTime, now);
  const records = replayJournal(base.records, replay.entries);
  records.set(JOURNAL_STATE_SPACE, new Map([[JOURNAL_STATE_KEY, replay.state]]));
  return { plan: replay.plan, records };
}
