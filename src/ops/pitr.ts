import type { Driver, RawRecord, StoredRecord } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { readIsoTime } from '../codec/iso-time.js';
import {
  JOURNAL_SPACE,
  JOURNAL_STATE_KEY,
  JOURNAL_STATE_SPACE,
  parseEntry,
  seqKey,
  type JournalEntry,
  type JournalHead,
} from './journal-entry.js';
import { loadMarks, LOADS_SPACE, RESTORE_OP, restoreMark } from './journal-loads.js';
import { noJournal, readJournalAfter } from './journal-read.js';
import { parseJournalState, readJournalState, type JournalState } from './journal-state.js';
import { replayJournal, type SpaceRecords } from './pitr-replay.js';

/** Where a backup stands, and how to read one of its records (below encryption). */
export interface PitrSource {
  /** When the backup was taken, epoch ms. */
  at: number;
  /** The highest journal seq the backup holds (its manifest's `journalSeq`; 0: none). */
  journalSeq: number;
  read(space: string, key: string): Promise<StoredRecord | null>;
  /**
   * The first journal record (in seq order) the backup holds whose entry's time is after
   * `toTime`, or null: a backup is taken while writes go on, so it may hold changes made
   * after its own `at`.
   */
  firstAfter(toTime: number): Promise<StoredRecord | null>;
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

/** The largest epoch ms a `Date` can hold (either side of 1970). */
const MAX_TIME = 8.64e15;
/** An ISO 8601 date or date-time (without a zone: local time, as `Date.parse`), else NaN. */
function isoMs(text: string): number {
  const read = readIsoTime(text);
  return typeof read === 'string' ? Number.NaN : read.ms;
}

/** The time `toTime` names (a Date, epoch ms or an ISO 8601 string), else BAD_INPUT. */
export function parseToTime(value: unknown, op: string): number {
  const ms =
    value instanceof Date
      ? value.getTime()
      : typeof value === 'number'
        ? value
        : typeof value === 'string'
          ? isoMs(value)
          : Number.NaN;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME) {
    throw new StrataError('BAD_INPUT', `${op}: toTime must be a date (a Date, epoch ms or an ISO 8601 string)`, {
      op,
      hint: "pass toTime: new Date('2026-12-01T10:00:00Z') (strata restore --to-time 2026-12-01T10:00:00Z)",
      details: { toTime: typeof value === 'string' ? value.slice(0, 100) : typeof value },
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
      hint: 'use another backup (store.backups.list(), CLI: strata backup list)',
      details: { seq: base.journalSeq },
    });
  }
  const entry = parseEntry(record.key, record.value);
  return { seq: entry.seq, hash: entry.hash };
}

/**
 * NOT_FOUND when a whole load the backup does not hold (a `store.import` made after it) may
 * lie within the replay: the journal holds no entries for it, so replaying past it would
 * rebuild a state that never existed (see ops/journal-loads.ts).
 */
async function checkNoLoadCrossed(live: Driver, base: PitrSource, toSeq: number, toTime: number, now: number): Promise<void> {
  for (const { key, mark } of await loadMarks(live, now)) {
    if ((await base.read(LOADS_SPACE, key)) !== null) continue; // made before the backup: in it
    if (mark.op === RESTORE_OP) {
      if (toTime <= mark.from! || toTime >= mark.at) continue; // not in the period it undid
      throw new StrataError(
        'NOT_FOUND',
        `toTime lies in a period a restore has undone: at ${new Date(mark.at).toISOString()} the store went back to ${new Date(mark.from!).toISOString()}, and its journal no longer holds what came between`,
        {
          hint: 'pass a toTime before or after that period (CLI: --to-time <time>)',
          details: { reason: 'undone-by-restore', restoredAt: mark.at, restoredTo: mark.from },
        },
      );
    }
    if (toSeq <= mark.seq && toTime < mark.at) continue; // the replay ends before the load
    throw new StrataError(
      'NOT_FOUND',
      `the journal does not cover a ${mark.op} made after the backup (at ${new Date(mark.at).toISOString()}, after journal entry ${mark.seq}): it writes records whole, without journal entries`,
      {
        hint: 'use a backup taken after that import, or a toTime before it (CLI: --to-time <time>)',
        details: { reason: 'load-after-backup', loadAt: mark.at, loadSeq: mark.seq, op: mark.op },
      },
    );
  }
}

/**
 * The marks the store restored to `toTime` holds besides its backup's: the live marks made at
 * or before `toTime` (they are part of the history restored to; later ones are undone), and
 * this restore's own. `scratch` holds the backup.
 */
export async function marksAfterRestore(live: Driver, scratch: PitrSource, plan: PitrPlan, now: number): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for (const { key, mark, record } of await loadMarks(live, now)) {
    if (mark.at > plan.toTime || (await scratch.read(LOADS_SPACE, key)) !== null) continue;
    out.push({ space: LOADS_SPACE, ...record });
  }
  out.push(restoreMark(plan.toSeq, now, plan.toTime));
  return out;
}

/** A `PitrSource` over records held in memory. */
export function recordsSource(base: PitrBase): PitrSource {
  return {
    at: base.at,
    journalSeq: base.journalSeq,
    read: async (space, key) => base.records.get(space)?.get(key) ?? null,
    firstAfter: async (toTime) => {
      const journal = [...(base.records.get(JOURNAL_SPACE)?.values() ?? [])].sort((a, b) => (a.key < b.key ? -1 : 1));
      return journal.find((r) => parseEntry(r.key, r.value).at > toTime) ?? null;
    },
  };
}

/** `PitrSource.firstAfter` over a driver holding a backup (a restore's scratch copy). */
export async function firstAfterIn(driver: Driver, toTime: number, now: number): Promise<StoredRecord | null> {
  const [first] = await driver.scan(JOURNAL_SPACE, { filter: { op: 'gt', path: ['at'], value: toTime }, limit: 1 }, now);
  return first ?? null;
}

/**
 * BAD_INPUT when the backup holds a change made after `toTime` (it was taken while writes
 * went on): the journal cannot take a change back, so that backup cannot give the state at
 * `toTime`. `details.reason` is `'backup-after-toTime'`: a directory of backups tries an older one.
 */
async function checkNothingAfter(base: PitrSource, toTime: number): Promise<void> {
  const record = await base.firstAfter(toTime);
  if (record === null) return;
  const entry = parseEntry(record.key, record.value);
  throw bad(
    `the backup holds a change made after toTime (journal entry ${entry.seq}, at ${new Date(entry.at).toISOString()}): it was taken while writes went on`,
    'use an older backup, or a toTime at or after that change (CLI: --to-time <time>)',
    { reason: 'backup-after-toTime', seq: entry.seq, at: entry.at, backupAt: base.at },
  );
}

/** What replaying onto a backup takes: the entries, checked, and the journal state the result holds. */
export interface PitrReplay {
  plan: PitrPlan;
  entries: JournalEntry[];
  /** The `meta.journal-state` record of the restored store. */
  state: StoredRecord;
}

/** The live journal's state; NOT_FOUND first of all on a store without one, whatever the toTime. */
export async function liveJournal(live: Driver, now: number): Promise<JournalState> {
  const loaded = await readJournalState(live, now);
  if (loaded === null) throw noJournal();
  return loaded.state;
}

/** BAD_INPUT for a `toTime` the backup cannot be brought to: in the future, or before it. */
function checkToTime(base: PitrSource, toTime: number, now: number): void {
  if (toTime > now) {
    throw bad('toTime is in the future: the journal ends now', 'pass a toTime at or before now (CLI: --to-time <time>)');
  }
  if (toTime < base.at) {
    throw bad(
      `toTime is before the backup was taken (${new Date(base.at).toISOString()})`,
      'use an older backup, or a later toTime (CLI: --to-time <time>)',
      { backupAt: base.at },
    );
  }
}

/** The journal state the backup holds; NOT_FOUND when it predates the journal, BAD_INPUT when another journal's. */
async function backupJournal(base: PitrSource, live: JournalState): Promise<JournalState> {
  const record = await base.read(JOURNAL_STATE_SPACE, JOURNAL_STATE_KEY);
  if (record === null) {
    throw new StrataError(
      'NOT_FOUND',
      'the backup was taken before the store kept a journal: no point in time after it can be rebuilt',
      {
        hint: 'restore it without toTime (CLI: without --to-time), or use a backup taken since the journal was turned on',
      },
    );
  }
  const held = parseJournalState(record.value);
  if (held.since !== live.since) {
    // Another journal: another store's backup, or one from before a restore restarted it.
    throw bad(
      `the backup does not belong to this store's journal: its journal was turned on at ${new Date(held.since).toISOString()}, this store's at ${new Date(live.since).toISOString()}`,
      'restore it without toTime (CLI: without --to-time), or use a backup of this store taken since its journal was turned on',
      { backupSince: held.since, since: live.since },
    );
  }
  return held;
}

/**
 * Plans a point-in-time restore: the LIVE store's journal from the backup's point up to
 * `toTime` (see `readJournalAfter` for every gap refused). `live` is the store's driver
 * below encryption. Changes nothing: the caller applies the entries to the backup and
 * swaps it in in one atomic step, or only reports the plan (`dryRun`).
 */
export async function planReplay(live: Driver, base: PitrSource, toTime: number, now: number): Promise<PitrReplay> {
  const liveState = await liveJournal(live, now);
  checkToTime(base, toTime, now);
  const { start } = await backupJournal(base, liveState);
  await checkNothingAfter(base, toTime);
  const slice = await readJournalAfter(live, await anchorOf(base), toTime, now);
  const state: StoredRecord = {
    key: JOURNAL_STATE_KEY,
    // The live state (retention included) with the backup's start: what the restored journal holds.
    value: JSON.stringify({ ...slice.state, start }),
    version: 1,
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
  };
  const first = slice.entries[0];
  const last = slice.entries.at(-1);
  await checkNoLoadCrossed(live, base, last?.seq ?? base.journalSeq, toTime, now);
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
  const source = recordsSource(base);
  const replay = await planReplay(live, source, toTime, now);
  const records = replayJournal(base.records, replay.entries);
  records.set(JOURNAL_STATE_SPACE, new Map([[JOURNAL_STATE_KEY, replay.state]]));
  const marks = new Map(records.get(LOADS_SPACE));
  for (const { space: _space, ...mark } of await marksAfterRestore(live, source, replay.plan, now)) marks.set(mark.key, mark);
  records.set(LOADS_SPACE, marks);
  return { plan: replay.plan, records };
}
