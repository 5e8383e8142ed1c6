import { StrataError } from '../errors.js';
import { scanRecords } from './memory-scan.js';
import { RecordMap } from './record-map.js';
import { newStamp } from './record-stamp.js';
import { scanDigest } from './scan-digest.js';
import { versionConflict } from './version-conflict.js';
import type { BatchResult, ScanQuery, SpaceStats, StoredRecord, WriteOp } from './driver.js';
import { JOURNAL_SPACE } from '../ops/journal-entry.js';
import { journalMutations } from './memory-journal.js';
import { ALL_USER_SPACES, countsFor, isUserSpace, quotaVerdict, recordBytes, type QuotaOp, type Usage } from './quota-usage.js';

/** One resulting record state: `record === null` deletes the key. */
export interface Mutation {
  space: string;
  key: string;
  record: StoredRecord | null;
}

export interface Plan {
  results: BatchResult[];
  mutations: Mutation[];
}

/**
 * The usage a batch's `checkQuota` ops start from. `bound` is cheap and never below the
 * live usage (it counts expired records not yet swept too); `live` is exact and may walk
 * every record, so it runs only when the bound cannot settle a check.
 */
export interface UsageBase {
  bound(space: string): Usage;
  live(space: string, now: number): Usage;
}

/** Adds the live usage of every record of `records` to `into`. */
export function addLive(into: Usage, records: RecordMap | undefined, now: number): void {
  if (records !== undefined) for (const r of records.values()) addRecord(into, r, now);
}

/** Adds the live usage of the records of `records` at `keys` to `into`. */
export function addLiveAt(into: Usage, records: RecordMap | undefined, keys: Iterable<string>, now: number): void {
  if (records !== undefined) for (const key of keys) addRecord(into, records.get(key), now);
}

function addRecord(into: Usage, r: StoredRecord | undefined, now: number): void {
  if (r === undefined || (r.expiresAt !== null && r.expiresAt <= now)) return;
  into.records++;
  into.bytes += recordBytes(r);
}

/**
 * One space's `stats()` at `now`: live records and their bytes, and expired records apart
 * (held until the sweeper removes them), measured as quotas measure them.
 */
export function spaceStats(space: string, records: RecordMap, now: number): SpaceStats {
  const live = { records: 0, bytes: 0 };
  addLive(live, records, now);
  return { space, records: live.records, expired: records.size - live.records, bytes: live.bytes };
}

/** The spaces a quota op of `space` covers among `names`. */
export function coveredSpaces(space: string, names: Iterable<string>): string[] {
  if (space !== ALL_USER_SPACES) return [space];
  return [...names].filter(isUserSpace);
}

function live(record: StoredRecord | undefined, now: number): StoredRecord | null {
  if (record === undefined) return null;
  return record.expiresAt !== null && record.expiresAt <= now ? null : record;
}

/**
 * Records held in maps, with the batch semantics every driver shares. Used by the memory
 * driver and, as its in-RAM image, by the file driver: `plan` validates a batch without
 * touching state, so a durable driver can persist the mutations before `apply`ing them.
 */
export class MemoryState implements UsageBase {
  readonly spaces = new Map<string, RecordMap>();
  /** Spaces `copySpaceFrom` filled whole (a scratch state planning `checkScan` ops). */
  readonly #copied = new Set<string>();

  space(name: string): RecordMap {
    let space = this.spaces.get(name);
    if (!space) {
      space = new RecordMap();
      this.spaces.set(name, space);
    }
    return space;
  }

  get(space: string, key: string, now: number): StoredRecord | null {
    return live(this.spaces.get(space)?.get(key), now);
  }

  scan(space: string, query: ScanQuery, now: number): StoredRecord[] {
    const records = this.spaces.get(space);
    return records ? scanRecords(records, query, now) : [];
  }

  count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): number {
    return this.scan(space, { prefix: query.prefix, filter: query.filter }, now).length;
  }

  bound(space: string): Usage {
    const usage = { records: 0, bytes: 0 };
    for (const name of coveredSpaces(space, this.spaces.keys())) {
      const records = this.spaces.get(name);
      usage.records += records?.size ?? 0;
      usage.bytes += records?.bytes ?? 0;
    }
    return usage;
  }

  live(space: string, now: number): Usage {
    const usage = { records: 0, bytes: 0 };
    for (const name of coveredSpaces(space, this.spaces.keys())) addLive(usage, this.spaces.get(name), now);
    return usage;
  }

  /**
   * Checks every condition and computes the new records; throws CONFLICT or QUOTA_EXCEEDED,
   * changes nothing. `base` is what `checkQuota` ops measure from (this state by default).
   */
  plan(ops: readonly WriteOp[], now: number, driver: string, base: UsageBase = this): Plan {
    const quotas = ops.filter((op): op is QuotaOp => op.type === 'checkQuota');
    // Live usage each space gains (or loses) in this batch, for the quota checks.
    const gained = quotas.length === 0 ? null : new Map<string, Usage>();
    // Later ops in one batch see the effect of earlier ones.
    const pending = new Map<string, StoredRecord | null>();
    const current = (space: string, key: string): StoredRecord | null => {
      const id = `${space}\u0000${key}`;
      return pending.has(id) ? pending.get(id)! : this.get(space, key, now);
    };
    const results: BatchResult[] = [];
    const mutations: Mutation[] = [];
    let journal = false;
    ops.forEach((op, index) => {
      if (op.type === 'journal') {
        journal = true;
        results.push(null);
        return;
      }
      if (op.type === 'checkQuota') {
        results.push(null);
        return;
      }
      if (op.type === 'checkScan') {
        this.#checkScan(op, index, now, driver, pending);
        results.push(null);
        return;
      }
      const existing = current(op.space, op.key);
      const actual = existing?.version ?? 0;
      if (op.expect !== undefined && actual !== op.expect) {
        throw versionConflict(driver, index, op, actual);
      }
      if (op.stamp !== undefined && existing !== null && existing.stamp !== op.stamp) {
        throw versionConflict(driver, index, op, actual, true);
      }
      if (op.type === 'check') {
        results.push(null);
        return;
      }
      let record: StoredRecord | null = null;
      if (op.type === 'put') {
        record = {
          key: op.key,
          value: op.value,
          version: (existing?.version ?? 0) + 1,
          createdAt: existing?.createdAt ?? now,
          updatedAt: now,
          expiresAt: op.expiresAt,
          stamp: newStamp(),
        };
        results.push(record);
      } else {
        results.push(existing);
        if (existing === null && this.spaces.get(op.space)?.has(op.key) !== true) return;
      }
      pending.set(`${op.space}\u0000${op.key}`, record);
      mutations.push({ space: op.space, key: op.key, record });
      if (gained !== null) gain(gained, op.space, existing, live(record ?? undefined, now));
    });
    for (const op of quotas) checkQuota(op, gained!, base, now, driver);
    if (journal) mutations.push(...journalMutations(this.spaces.get(JOURNAL_SPACE), mutations, now));
    return { results, mutations };
  }

  /**
   * Reruns a transaction's scan on the state as the batch has changed it so far and compares
   * digests: any record added, removed or rewritten in what the scan returned is a CONFLICT.
   */
  #checkScan(
    op: Extract<WriteOp, { type: 'checkScan' }>,
    index: number,
    now: number,
    driver: string,
    pending: ReadonlyMap<string, StoredRecord | null>,
  ): void {
    const prefix = `${op.space}\u0000`;
    let records = this.spaces.get(op.space);
    // Earlier ops of this batch in the same space: scan a copy with them applied (rare:
    // transactions send their checks before their writes).
    for (const [id, record] of pending) {
      if (!id.startsWith(prefix)) continue;
      if (records === this.spaces.get(op.space)) records = copyOf(records);
      const key = id.slice(prefix.length);
      if (record === null) records!.delete(key);
      else records!.set(key, record);
    }
    const found = records === undefined ? [] : scanRecords(records, op.query, now);
    if (scanDigest(found) === op.expect) return;
    throw new StrataError('CONFLICT', `a scan of "${op.space}" returns other records than when the transaction read it`, {
      driver,
      hint: 'run the transaction again: store.transaction does this by itself',
      details: { index, space: op.space, kind: 'scan' },
    });
  }

  /**
   * Makes this (scratch) state hold every record of `space` from `source`, once: a
   * `checkScan` looks at the whole space, not only at the keys a batch names.
   */
  copySpaceFrom(source: MemoryState, space: string): void {
    if (this.#copied.has(space)) return;
    this.#copied.add(space);
    const from = source.spaces.get(space);
    if (from === undefined) return;
    const into = this.space(space);
    // In key order, which SortedKeys appends cheaply.
    for (const key of from.sortedKeys()) {
      const record = from.get(key);
      if (record !== undefined) into.set(key, record);
    }
  }

  apply(mutations: readonly Mutation[]): void {
    for (const m of mutations) {
      if (m.record === null) this.spaces.get(m.space)?.delete(m.key);
      else this.space(m.space).set(m.key, m.record);
    }
  }

  /** The mutations that remove expired records (at most `limit` of them); changes nothing. */
  expired(now: number, limit = Infinity): Mutation[] {
    const out: Mutation[] = [];
    for (const [space, records] of this.spaces) {
      for (const record of records.values()) {
        if (out.length >= limit) return out;
        if (record.expiresAt !== null && record.expiresAt <= now) out.push({ space, key: record.key, record: null });
      }
    }
    return out;
  }
}

function gain(gained: Map<string, Usage>, space: string, before: StoredRecord | null, after: StoredRecord | null): void {
  let usage = gained.get(space);
  if (usage === undefined) gained.set(space, (usage = { records: 0, bytes: 0 }));
  usage.records += (after === null ? 0 : 1) - (before === null ? 0 : 1);
  usage.bytes += (after === null ? 0 : recordBytes(after)) - (before === null ? 0 : recordBytes(before));
}

/**
 * Throws QUOTA_EXCEEDED when the batch's gain takes the covered usage past a limit. The
 * cheap bound settles most checks; the exact (walking) count runs only when it cannot.
 */
function checkQuota(op: QuotaOp, gained: ReadonlyMap<string, Usage>, base: UsageBase, now: number, driver: string): void {
  const delta = { records: 0, bytes: 0 };
  for (const [space, usage] of gained) {
    if (!countsFor(op, space)) continue;
    delta.records += usage.records;
    delta.bytes += usage.bytes;
  }
  if (delta.records <= 0 && delta.bytes <= 0) return;
  const plus = (u: Usage): Usage => ({ records: u.records + delta.records, bytes: u.bytes + delta.bytes });
  const bound = base.bound(op.space);
  if (quotaVerdict(op, bound, plus(bound), driver) === null) return;
  const before = base.live(op.space, now);
  const error = quotaVerdict(op, before, plus(before), driver);
  if (error !== null) throw error;
}

function copyOf(records: RecordMap | undefined): RecordMap {
  const copy = new RecordMap();
  if (records === undefined) return copy;
  for (const key of records.sortedKeys()) {
    const record = records.get(key);
    if (record !== undefined) copy.set(key, record);
  }
  return copy;
}
