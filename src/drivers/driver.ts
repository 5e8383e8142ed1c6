import type { Filter, SortSpec } from '../query/ast.js';

/**
 * One stored record as a driver sees it. The core owns serialization: `value` is always
 * JSON text produced by `codec/json.ts`, so drivers only move strings.
 * Times are epoch milliseconds.
 */
export interface StoredRecord {
  key: string;
  value: string;
  /** 1 when first written, +1 on every write. */
  version: number;
  createdAt: number;
  updatedAt: number;
  /** Absolute expiry; `null` never expires. A record with `expiresAt <= now` is absent. */
  expiresAt: number | null;
  /**
   * Tells this write of the record from another write of the same key at the same version:
   * a key deleted and written again starts at version 1 again. Drivers set it on what they
   * read and write (sqlite: the record's CRC; memory and file: a number unique in the
   * process); `check` ops and scan digests compare it. Opaque, only meaningful within one
   * open driver, and never part of an image, a backup or an export.
   */
  stamp?: number;
}

/**
 * Where a scan resumes: strictly after this position in the scan's order.
 * `values` holds the sort-field values of the last item seen (one per `sort` entry).
 */
export interface ScanPosition {
  key: string;
  values?: unknown[];
}

export interface ScanQuery {
  /** Only keys that start with this string. */
  prefix?: string;
  /** Parsed, validated filter over the JSON value (see `query/ast.ts`). */
  filter?: Filter;
  /**
   * Sort by value fields; the key ascending always breaks ties. Without `sort`, key order.
   * Ordering of mixed types follows SQLite: missing/null < booleans and numbers < strings;
   * objects and arrays compare by their JSON text among strings. Strings compare by code point.
   */
  sort?: SortSpec[];
  /** Keyset pagination: resume strictly after this position. */
  after?: ScanPosition;
  offset?: number;
  limit?: number;
  /** Hint: the caller needs only keys and versions; `value` may be returned as `''`. */
  keysOnly?: boolean;
  /**
   * Hint: the caller reads only `key` and `value`; `version`, `createdAt` and `updatedAt`
   * may be returned as 0 and `expiresAt` as null. Expired records are still left out.
   */
  valuesOnly?: boolean;
}

/** Expected version for a conditional write: `0` means "must not exist". */
export type ExpectedVersion = number;

export type WriteOp =
  | {
      type: 'put';
      space: string;
      key: string;
      value: string;
      expiresAt: number | null;
      expect?: ExpectedVersion;
      /** With `expect`: the stored record must also be that very write (see `check`). */
      stamp?: number;
    }
  | { type: 'delete'; space: string; key: string; expect?: ExpectedVersion; stamp?: number }
  /**
   * Asserts a version without writing: optimistic transactions validate their reads with it.
   * With `stamp`, the record must also be that very write (its `stamp`), not another write
   * that reached the same version since (a delete and a new write, or a restore).
   */
  | { type: 'check'; space: string; key: string; expect: ExpectedVersion; stamp?: number }
  /**
   * Asserts that `scan(space, query)` would still return exactly the records (keys and
   * versions) summarised by `expect` (see `scanDigest` in scan-digest.ts), evaluated inside
   * the batch's atomic step: optimistic transactions validate their scans (phantoms) with it.
   * On a mismatch the batch rejects with CONFLICT and writes nothing. `key` is unused ('').
   */
  | { type: 'checkScan'; space: string; key: string; query: ScanQuery; expect: string }
  /**
   * Asserts that the batch leaves the live usage of `space` (`'*'`: every user space, `kv.*`
   * and `c.*` together) within `records` live records and `bytes` bytes (the driver's own
   * `stats()` measure of keys and values). Evaluated after all the batch's writes, wherever
   * the op stands, inside the batch's atomic step. Only growth is refused: a limit the batch
   * raises usage past rejects the whole batch with QUOTA_EXCEEDED and writes nothing; a batch
   * that does not raise that usage passes even when the space is already over (a lowered
   * quota). Expired records not yet swept do not count. `key` is unused (''); result `null`.
   */
  | { type: 'checkQuota'; space: string; key: string; records?: number; bytes?: number }
  /**
   * Appends one change-journal entry (see ops/journal-entry.ts) per put and delete of the
   * batch, after all its writes, inside the batch's atomic step: the driver reads the newest
   * entry of `meta.journal` there and numbers on from it, so entries commit with their writes
   * and seq numbers stay contiguous across processes. Must be the batch's last op; `space` is
   * `meta.journal`, `key` unused (''); result `null`.
   */
  | { type: 'journal'; space: string; key: string };

/**
 * Per op: `put` -> the record as now stored; `delete` -> the record removed, or `null` when
 * there was none; `check`, `checkScan`, `checkQuota`, `journal` -> `null`.
 */
export type BatchResult = StoredRecord | null;

export interface BatchOptions {
  /** `false`: the caller does not read the per-op results. @default true */
  results?: boolean;
}

export interface ChangeEvent {
  space: string;
  /** `''` for `reset`. */
  key: string;
  /**
   * `reset`: the driver could not deliver every change of `space` (a watcher fell too far
   * behind, its registration lapsed, or another process compacted what it had not read yet).
   * Listeners must re-read the space; no other event of the gap follows.
   */
  type: 'put' | 'delete' | 'reset';
  /** Version after the change; `null` for deletes and resets. */
  version: number | null;
  /** JSON text of the new value when the driver has it at hand (always for local puts). */
  value?: string;
  /** `remote` when another process (or node) made the change. */
  origin: 'local' | 'remote';
}

export interface SpaceSpec {
  /** Dotted value paths to index. Drivers with `nativeIndexes` create real indexes. */
  indexes?: readonly string[];
}

export interface SpaceStats {
  space: string;
  /** Live records (expired ones not counted, even before the sweeper removes them). */
  records: number;
  /** Expired records still physically present (not yet swept), when the driver knows. */
  expired?: number;
  /**
   * Bytes of the live records' keys and values: their UTF-8 length, as `kv.size()` counts a
   * value (expired records not counted), the same on every driver for the same records.
   */
  bytes: number;
}

export interface DriverStats {
  driver: string;
  /** Where the data lives (file path, URL without credentials), when it has one. */
  location?: string;
  /** Bytes on disk or in the server, when known. */
  storageBytes?: number;
  spaces: SpaceStats[];
}

export interface VerifyIssue {
  /** `VALIDATION_FAILED`: a document fails the schema its collection was declared with in this process. */
  code: 'CORRUPT' | 'INTEGRITY' | 'VALIDATION_FAILED';
  message: string;
  space?: string;
  key?: string;
}

/** How far a verify got: `storage` is the backend's own check, `values` the decryption of every ciphertext. */
export interface VerifyProgress {
  phase: 'storage' | 'values';
  checked: number;
  total: number;
}

export interface VerifyOptions {
  onProgress?: (progress: VerifyProgress) => void;
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  issues: VerifyIssue[];
  /**
   * Set when the store holds encrypted spaces but was opened without the keyring: their live
   * records had their checksums checked, not their ciphertexts. Zero records: nothing left unopened.
   */
  notOpened?: { records: number; spaces: Array<{ space: string; records: number }> };
}

/** What a driver can do. The core reads this record; it never sniffs for methods. */
export interface DriverCapabilities {
  /** Data survives close and reopen. */
  persistent: boolean;
  /** Several processes may open the same store at once without corruption or lost updates. */
  crossProcess: boolean;
  /** `watch` reports changes made by other processes or nodes. */
  watchRemote: boolean;
  /** `ensureSpace` indexes become real backend indexes used by filtered scans. */
  nativeIndexes: boolean;
  /**
   * The driver also offers `getSync`, answering a point read without a promise (an embedded
   * engine such as SQLite, or a memory cache). The core then skips a microtask hop on the
   * hottest path. @default false
   */
  syncReads?: boolean;
  /**
   * With `syncReads`: the driver also offers `getValueSync`, a point read of the value alone
   * (no version or timestamps to build), which `kv.get` and `collection.get` use. @default false
   */
  valueReads?: boolean;
  /**
   * The stack already holds the encryption layer (a store's own driver handed to another
   * `openStore({ driver })`): its values arrive decrypted and checked. @default false
   */
  encryption?: boolean;
  /**
   * The driver offers `openImage` and `loadImage`: whole-store images as stored (below the
   * encryption layer), for backups, restore, export and import (see `ops/image.ts`). @default false
   */
  images?: boolean;
}

/** A stored record with the space it belongs to: one entry of a whole-store image. */
export interface RawRecord extends StoredRecord {
  space: string;
}

/**
 * A consistent point-in-time view of every space, taken when `openImage` resolved; writers
 * keep writing meanwhile. Iterate it once; `close()` (idempotent) releases it early.
 */
export interface RecordImage extends AsyncIterable<RawRecord> {
  /** Every space in the image, declared-but-empty ones included, in name order. */
  readonly spaces: readonly string[];
  close(): Promise<void>;
}

export interface LoadOptions {
  /** `'replace'`: afterwards the store holds exactly the records given; `'merge'`: given keys are replaced, others stay. */
  mode: 'replace' | 'merge';
  /**
   * With `'replace'`: spaces whose names start with this prefix are merged instead (given keys
   * replaced, the others kept), decided inside the load's atomic step. Import keeps the store's
   * own `meta.*` records this way: read beforehand, records another process commits meanwhile
   * (its journal entries) would be dropped by the swap. A driver with `images` must honour it.
   */
  mergePrefix?: string;
}

/**
 * The contract every backend implements. Small on purpose: keys, versions, expiry and
 * conditional batches. Schemas, encryption, TTL parsing, transactions and everything else
 * are built once above it. `now` is passed in so all layers agree on one clock.
 *
 * Rules every driver must follow (held by `test/conformance`):
 * - records whose `expiresAt <= now` are invisible to every read and count as absent for
 *   `expect` checks and version numbering (a write over one starts again at version 1);
 * - `batch` is atomic: every `expect` is checked first; on any mismatch nothing is written
 *   and it rejects with `StrataError('CONFLICT')`;
 * - scans return records in the documented order, honouring `after`, `offset`, `limit`;
 * - after `close()` every method rejects with `StrataError('CLOSED')`.
 */
export interface Driver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /** Declares a space (namespace or collection) and its indexes. Idempotent. */
  ensureSpace(space: string, spec: SpaceSpec): Promise<void>;
  /** Every space that holds at least one record or was declared. */
  spaces(): Promise<string[]>;
  get(space: string, key: string, now: number): Promise<StoredRecord | null>;
  /** `get` without a promise; present exactly when `capabilities.syncReads` is true. */
  getSync?(space: string, key: string, now: number): StoredRecord | null;
  /** The JSON text of a live record's value, or `null`; present exactly when `capabilities.valueReads` is true. */
  getValueSync?(space: string, key: string, now: number): string | null;
  getMany(space: string, keys: readonly string[], now: number): Promise<Array<StoredRecord | null>>;
  scan(space: string, query: ScanQuery, now: number): Promise<StoredRecord[]>;
  count(space: string, query: Pick<ScanQuery, 'prefix' | 'filter'>, now: number): Promise<number>;
  /**
   * With `options.results === false` the caller ignores the results (`kv.setMany`), and the
   * driver may skip building them and return an empty array.
   */
  batch(ops: readonly WriteOp[], now: number, options?: BatchOptions): Promise<BatchResult[]>;
  /**
   * Physically removes expired records, at most `limit` of them (every one when absent), in
   * one atomic step; returns how many. A result below `limit` means none is left (at `now`).
   * A `limit` that is not a positive integer is BAD_INPUT.
   */
  purgeExpired(now: number, limit?: number): Promise<number>;
  /** Subscribes to changes; returns the unsubscribe function. */
  watch(listener: (event: ChangeEvent) => void): () => void;
  /** Records, expired records and bytes per space, expiry judged at `now` (the store's clock; absent: the wall clock). */
  stats(now?: number): Promise<DriverStats>;
  /** Checks everything the backend holds; `onProgress` (when given) hears how far it got. */
  verify(options?: VerifyOptions): Promise<VerifyReport>;
  /**
   * Present exactly when `capabilities.images`. A point-in-time image of every record live
   * at `now` (meta.* included), values exactly as stored. A damaged record is CORRUPT when
   * the iteration reaches it.
   */
  openImage?(now: number): Promise<RecordImage>;
  /**
   * Present exactly when `capabilities.images`. Writes the records verbatim (version and
   * times kept) in one atomic step; on any error nothing changes. Records must be checked
   * by the caller (see `ops/image.ts`). Watchers of the affected spaces get per-key events
   * or a `reset`.
   */
  loadImage?(source: AsyncIterable<RawRecord>, options: LoadOptions, now: number): Promise<{ records: number }>;
  /** Releases every handle, timer and connection. Idempotent. */
  close(): Promise<void>;
}
