/**
 * Whole-store images: the two primitives backups, restore, export/import, the journal and
 * migrations are built on. Both work BELOW the encryption layer (on the bottom driver of the
 * stack, found through `inner`), so encrypted values and record MACs are read and written
 * exactly as stored: an image of an encrypted store holds ciphertext only.
 *
 * ```ts
 * // A consistent point-in-time view of every space (meta.* included) while writers keep writing.
 * const image = await snapshotRecords(store);            // or a Driver
 * for await (const record of image) { ... }              // RawRecord: { space, key, value, version, createdAt, updatedAt, expiresAt }
 * await image.close();                                   // releases it early (idempotent; the end of iteration closes it too)
 *
 * // Writes records verbatim in ONE atomic step; on any error nothing changed.
 * await loadRecords(store, source, { mode: 'replace' });  // -> { records, reopen }
 * ```
 *
 * - `snapshotRecords(target, { now? })` resolves once the point in time is fixed: every
 *   record live at `now` (default: the store's clock, or Date.now for a driver) as it was
 *   then, in space then key order; `image.spaces` lists every space (declared-but-empty
 *   ones too). sqlite reads it through a second read-only connection inside one read
 *   transaction (WAL), file and memory copy their in-RAM image. A damaged record rejects
 *   the iteration with CORRUPT.
 * - `loadRecords(target, source, { mode, checkValues? })`: `source` is any async iterable.
 *   Every record is checked as it streams in (shape, space name, versions and times,
 *   `value` is JSON unless `checkValues: false`); a bad one is BAD_INPUT and nothing changes.
 *   `'replace'`: afterwards the store holds exactly the records given (every space not
 *   given is emptied, its declaration kept); `'merge'`: given records replace same-key ones,
 *   others stay. sqlite stages the records in a scratch file (1M records never in memory),
 *   then swaps them in with one IMMEDIATE transaction; file writes one journal line; memory
 *   applies them at once. Other processes see the old state or the new one. Watchers of the
 *   affected spaces get a `reset` (memory, sqlite) or per-key events (file driver). With a
 *   Store, its remembered collection specs and encryption specs are re-read afterwards.
 */
import type { Driver, RawRecord, RecordImage } from '../drivers/driver.js';
import { StrataError, withOp } from '../errors.js';
import { checkOptions } from '../codec/options.js';
import { MAX_TIME_MS, MAX_VERSION } from '../codec/duration.js';
import { EncryptionLayer } from '../layers/encryption.js';
import { CRYPTO_SPACE } from '../crypto/state.js';

export type { RawRecord, RecordImage } from '../drivers/driver.js';

/** What the primitives take: an open store, or a driver (stack). */
export interface ImageStore {
  readonly driver: Driver;
  /** @internal Re-reads what the store remembers (collection specs). */
  load(): Promise<void>;
}
export type ImageTarget = ImageStore | Driver;

export interface SnapshotOptions {
  /** Records expired at this time are left out. @default Date.now() */
  now?: number;
}

export interface LoadRecordsOptions {
  mode: 'replace' | 'merge';
  /** Check that every `value` is JSON text. @default true */
  checkValues?: boolean;
  /** The time the load happens at (watch logs, expiry checks). @default Date.now() */
  now?: number;
  /** With mode 'replace': spaces starting with it are merged instead (LoadOptions.mergePrefix in drivers/driver.ts). */
  mergePrefix?: string;
}

const isDriver = (target: ImageTarget): target is Driver => typeof (target as Driver).batch === 'function';

/** The driver at the bottom of a stack: what images are taken from and loaded into. */
export function bottomDriver(target: ImageTarget): Driver {
  let at: Driver = isDriver(target) ? target : target.driver;
  while ('inner' in at && (at as { inner?: Driver }).inner !== undefined) at = (at as { inner: Driver }).inner;
  return at;
}

function imageDriver(target: ImageTarget, op: string): Driver {
  if (target === null || typeof target !== 'object' || (!isDriver(target) && !isDriver((target as ImageStore).driver))) {
    throw new StrataError('BAD_INPUT', `${op}: pass an open store or a driver`, { op });
  }
  const driver = bottomDriver(target);
  if (driver.capabilities.images !== true || driver.openImage === undefined || driver.loadImage === undefined) {
    throw new StrataError('UNSUPPORTED', `${op}: the ${driver.name} driver cannot take or load whole-store images`, {
      op,
      driver: driver.name,
      hint: 'use a store opened with sqlite:, file: or memory:',
    });
  }
  return driver;
}

function checkTime(value: unknown, what: string): void {
  if (typeof value !== 'number' || !(Math.abs(value) <= MAX_TIME_MS))
    throw new Error(`${what} must be epoch ms within ±${MAX_TIME_MS} (a Date)`);
}

/** Checks one record and returns a clean copy holding only the record's own fields. */
export function checkRawRecord(input: unknown, index: number, checkValues: boolean, op = 'loadRecords'): RawRecord {
  const bad = (why: string): StrataError =>
    new StrataError('BAD_INPUT', `${op}: record #${index + 1} ${why}; nothing was changed`, {
      op,
      hint: 'each record needs { space, key, value (JSON text), version >= 1, createdAt, updatedAt, expiresAt (number or null) }',
      details: { index },
    });
  if (input === null || typeof input !== 'object') throw bad('is not an object');
  const r = input as Record<string, unknown>;
  if (typeof r.space !== 'string' || !SPACE.test(r.space)) throw bad(`has an invalid space ${JSON.stringify(r.space)}`);
  if (typeof r.key !== 'string' || Buffer.byteLength(r.key) > MAX_KEY)
    throw bad('has an invalid key (a string up to 4096 bytes)');
  if (typeof r.value !== 'string') throw bad('has a value that is not a string of JSON text');
  if (checkValues) {
    try {
      JSON.parse(r.value);
    } catch {
      throw bad(`has a value that is not JSON text (key ${JSON.stringify(r.key)})`);
    }
  }
  if (typeof r.version !== 'number' || !Number.isSafeInteger(r.version) || r.version < 1 || r.version > MAX_VERSION)
    throw bad(`has a version that is not a whole number from 1 to ${MAX_VERSION}`);
  try {
    checkTime(r.createdAt, 'createdAt');
    checkTime(r.updatedAt, 'updatedAt');
    if (r.expiresAt !== null) checkTime(r.expiresAt, 'expiresAt');
  } catch (error) {
    throw bad(`has a bad time: ${(error as Error).message}`);
  }
  return {
    space: r.space,
    key: r.key,
    value: r.value,
    version: r.version,
    createdAt: r.createdAt as number,
    updatedAt: r.updatedAt as number,
    expiresAt: r.expiresAt as number | null,
  };
}

const SPACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,299}$/;
const MAX_KEY = 4096;

/** A consistent point-in-time image of every space of `target`, values exactly as stored. */
export async function snapshotRecords(target: ImageTarget, options: SnapshotOptions = {}): Promise<RecordImage> {
  const op = 'snapshotRecords';
  const driver = imageDriver(target, op);
  checkOptions(options, ['now'], op);
  const now = options.now ?? Date.now();
  if (typeof now !== 'number' || !Number.isFinite(now))
    throw new StrataError('BAD_INPUT', `${op}: now must be a number (epoch ms)`, { op });
  try {
    const image = await driver.openImage!(now);
    return {
      spaces: image.spaces,
      close: () => image.close(),
      async *[Symbol.asyncIterator]() {
        try {
          yield* image;
        } catch (error) {
          throw withOp(error, op, driver.name);
        }
      },
    };
  } catch (error) {
    throw withOp(error, op, driver.name);
  }
}

/** Writes `source` verbatim into `target` in one atomic step (see the file header). */
export async function loadRecords(
  target: ImageTarget,
  source: AsyncIterable<RawRecord> | Iterable<RawRecord>,
  options: LoadRecordsOptions,
): Promise<{ records: number; reopen: boolean }> {
  const op = 'loadRecords';
  const driver = imageDriver(target, op);
  checkOptions(options, ['mode', 'checkValues', 'now', 'mergePrefix'], op);
  if (options?.mode !== 'replace' && options?.mode !== 'merge') {
    throw new StrataError('BAD_INPUT', `${op}: mode must be 'replace' or 'merge'`, {
      op,
      hint: "pass { mode: 'replace' } or { mode: 'merge' }",
    });
  }
  if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
    throw new StrataError('BAD_INPUT', `${op}: source must be an iterable of records`, { op });
  }
  if (options.mergePrefix !== undefined && (typeof options.mergePrefix !== 'string' || options.mergePrefix.length === 0)) {
    // Internal callers only (store.import): no hint, since no user option leads here.
    throw new StrataError('BAD_INPUT', `${op}: mergePrefix must be a non-empty string`, { op });
  }
  const checkValues = options.checkValues ?? true;
  const now = options.now ?? Date.now();
  async function* checked(): AsyncIterable<RawRecord> {
    let index = 0;
    for await (const record of source as AsyncIterable<unknown>) {
      yield checkRawRecord(record, index, checkValues, op);
      index++;
    }
  }
  const before = await cryptoIdentity(target, now);
  let result: { records: number };
  try {
    result = await driver.loadImage!(checked(), { mode: options.mode, mergePrefix: options.mergePrefix }, now);
  } catch (error) {
    throw withOp(error, op, driver.name);
  }
  const reopen = !(await refreshAfterLoad(target, now, before));
  return { records: result.records, reopen };
}

/**
 * The encryption identity of a store as stored (`meta.crypto`: store id, salt, key checks),
 * as text to compare. A load that changes it (an image of another store) leaves this process's
 * encryption layer keyed for the old identity: the store must be opened again.
 */
export async function cryptoIdentity(target: ImageTarget, now: number): Promise<string> {
  const driver = bottomDriver(target);
  const records = (await driver.spaces()).includes(CRYPTO_SPACE) ? await driver.scan(CRYPTO_SPACE, {}, now) : [];
  return JSON.stringify(records.map((r) => [r.key, r.value]));
}

/**
 * A store caches what its spaces are (collection specs, encryption specs): read them again.
 * With `before` (the identity before the load) and a changed identity, nothing is re-read
 * (it would be read through keys derived for the old identity) and the result is false:
 * reopen the store.
 */
export async function refreshAfterLoad(target: ImageTarget, now: number, before?: string): Promise<boolean> {
  if (isDriver(target)) return true;
  const layered = target.driver.capabilities.encryption === true;
  if (before !== undefined && layered && (await cryptoIdentity(target, now)) !== before) return false;
  let at: Driver = target.driver;
  for (;;) {
    if (at instanceof EncryptionLayer) await at.load(now);
    const inner = (at as { inner?: Driver }).inner;
    if (inner === undefined) break;
    at = inner;
  }
  await target.load();
  return true;
}
