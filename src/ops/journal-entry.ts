import { createHash } from 'node:crypto';
import { parseJson } from '../codec/json.js';
import { StrataError } from '../errors.js';
import type { StoredRecord } from '../drivers/driver.js';

/** The space holding the change journal: one record per entry, key = `seqKey(seq)`. */
export const JOURNAL_SPACE = 'meta.journal';
/** Where the journal's settings and start live (never journaled itself). */
export const JOURNAL_STATE_SPACE = 'meta.journal-state';
export const JOURNAL_STATE_KEY = 'state';
/** Where whole loads (`store.import`) leave their mark (see ops/journal-loads.ts; never journaled itself). */
export const JOURNAL_LOADS_SPACE = 'meta.journal-loads';

/**
 * Spaces whose writes are not journaled: the journal itself, and schedule leases and outcomes
 * (run-time bookkeeping of this moment; replaying them would make a restored store think a
 * slot ran that it did not).
 */
const NOT_JOURNALED = new Set([JOURNAL_SPACE, JOURNAL_STATE_SPACE, JOURNAL_LOADS_SPACE, 'meta.schedules']);

/** Whether a committed write to `space` gets a journal entry. */
export function journaled(space: string): boolean {
  return !NOT_JOURNALED.has(space);
}

/** The record key of entry `seq`: 16 digits, zero-padded, so key order is seq order. */
export function seqKey(seq: number): string {
  return String(seq).padStart(16, '0');
}

/** A record as the journal keeps it: the stored envelope, value as stored (ciphertext stays ciphertext). */
export interface JournalRecord {
  value: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
}

/** One committed change. `hash` covers every field and `prev` (the hash of entry seq - 1): a chain. */
export interface JournalEntry {
  seq: number;
  /** The write's time (the batch's `now`), epoch ms. */
  at: number;
  space: string;
  key: string;
  op: 'put' | 'delete';
  /** The record as stored after a put; `null` for a delete. */
  record: JournalRecord | null;
  prev: string;
  hash: string;
}

/** One change a batch made, as the driver knows it inside its atomic step. */
export interface JournalChange {
  space: string;
  key: string;
  /** The record as now stored; `null` when the batch removed it. */
  record: StoredRecord | null;
}

/** The newest entry's seq and hash: what the next entry continues from. */
export interface JournalHead {
  seq: number;
  hash: string;
}

export function entryHash(e: Omit<JournalEntry, 'hash'>): string {
  const r = e.record;
  const text = JSON.stringify([
    e.seq,
    e.at,
    e.space,
    e.key,
    e.op,
    r === null ? null : [r.value, r.version, r.createdAt, r.updatedAt, r.expiresAt],
    e.prev,
  ]);
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/**
 * The journal records (key, JSON value) for the changes of one batch, numbered on from
 * `head`. Drivers call this inside the batch's atomic step, after its writes, so an entry
 * and its write commit together and seq numbers stay contiguous across processes.
 */
export function journalRecords(
  changes: readonly JournalChange[],
  head: JournalHead | null,
  now: number,
): Array<{ key: string; value: string; seq: number; hash: string }> {
  const out: Array<{ key: string; value: string; seq: number; hash: string }> = [];
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? '';
  for (const c of changes) {
    if (!journaled(c.space)) continue;
    const r = c.record;
    const base: Omit<JournalEntry, 'hash'> = {
      seq: ++seq,
      at: now,
      space: c.space,
      key: c.key,
      op: r === null ? 'delete' : 'put',
      record:
        r === null
          ? null
          : { value: r.value, version: r.version, createdAt: r.createdAt, updatedAt: r.updatedAt, expiresAt: r.expiresAt },
      prev,
    };
    const entry: JournalEntry = { ...base, hash: entryHash(base) };
    prev = entry.hash;
    out.push({ key: seqKey(seq), value: JSON.stringify(entry), seq, hash: entry.hash });
  }
  return out;
}

function damaged(key: string, why: string): StrataError {
  return new StrataError('CORRUPT', `journal entry ${key} is damaged: ${why}`, {
    hint: 'point-in-time restore cannot use a journal with a damaged entry; restore the newest backup without toTime',
    details: { space: JOURNAL_SPACE, key },
  });
}

const isInt = (n: unknown): n is number => Number.isSafeInteger(n);

/**
 * Parses and checks one stored entry: well-formed, its key matching its seq, its hash
 * matching its contents. Anything else is CORRUPT, never a guess.
 */
export function parseEntry(key: string, value: string): JournalEntry {
  let raw: unknown;
  try {
    raw = parseJson(value);
  } catch {
    throw damaged(key, 'not JSON');
  }
  if (raw === null || typeof raw !== 'object') throw damaged(key, 'not an object');
  const e = raw as Record<string, unknown>;
  const r = e.record as Record<string, unknown> | null | undefined;
  const recordOk =
    r === null
      ? e.op === 'delete'
      : r !== undefined &&
        typeof r === 'object' &&
        e.op === 'put' &&
        typeof r.value === 'string' &&
        isInt(r.version) &&
        isInt(r.createdAt) &&
        isInt(r.updatedAt) &&
        (r.expiresAt === null || isInt(r.expiresAt));
  if (
    !isInt(e.seq) ||
    !isInt(e.at) ||
    typeof e.space !== 'string' ||
    typeof e.key !== 'string' ||
    typeof e.prev !== 'string' ||
    typeof e.hash !== 'string' ||
    !recordOk
  ) {
    throw damaged(key, 'a field is missing or of the wrong type');
  }
  const entry = e as unknown as JournalEntry;
  if (seqKey(entry.seq) !== key) throw damaged(key, `it holds seq ${entry.seq}`);
  const { hash, ...rest } = entry;
  if (entryHash(rest) !== hash) throw damaged(key, 'its checksum does not match its contents');
  return entry;
}

/** The head to continue from, given the newest stored entry (`undefined`: the journal is empty). */
export function headOf(key: string | undefined, value: string | undefined): JournalHead | null {
  if (key === undefined || value === undefined) return null;
  const e = parseEntry(key, value);
  return { seq: e.seq, hash: e.hash };
}
