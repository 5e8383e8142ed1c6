import type { ChangeEvent, StoredRecord, WriteOp } from './drivers/driver.js';
import { hideEncrypted } from './crypto/redact.js';
import { asRead } from './drivers/record-stamp.js';
import { checkWatch, kvSpace, retryOnConflict, type HandleContext } from './context.js';
import { checkKey } from './codec/keys.js';
import { encodeJson, parseJson } from './codec/json.js';
import { expiryFrom, parseDuration, type Duration } from './codec/duration.js';
import { checkOptions } from './codec/options.js';
import {
  checkDefault,
  checkLimit,
  checkPrefix,
  checkVersion,
  GET_OPTIONS,
  LIST_OPTIONS,
  NO_OPTIONS,
  PREFIX_OPTIONS,
  SET_OPTIONS,
  TTL_OPTIONS,
  VERSION_OPTIONS,
  type KvDefaults,
} from './kv-checks.js';
import { StrataError, withOp } from './errors.js';
import type { Quota } from './layers/quota.js';

export interface KvOptions<V = unknown> {
  /**
   * Encrypt whole values at rest with the store's keyring.
   * @default false
   */
  encrypt?: boolean;
  /**
   * Values that `get` and `getMany` return for keys that are absent or expired. Nothing is
   * written: `has`, `getEntry`, `list` and `count` still see only stored keys.
   */
  defaults?: Readonly<Record<string, V>>;
  /**
   * Limits the namespace to `records` live keys and/or `bytes` of keys and values: a write
   * that would go past it is QUOTA_EXCEEDED and changes nothing. Held by this process:
   * declare it in every process that writes the namespace.
   */
  quota?: Quota;
}

export interface GetOptions<D> {
  /** Returned instead of `null` when the key is absent or expired (over the namespace's `defaults`). */
  default?: D;
}

export interface SetOptions {
  /** Time to live: ms or `'10m'`, `'7d'`. Without it the key never expires. */
  ttl?: Duration;
  /** Write only if the stored version is this one (`0`: only if absent); else CONFLICT. */
  ifVersion?: number;
}

export interface ListOptions {
  prefix?: string;
  /** At most this many keys. @default all */
  limit?: number;
  /** Resume after this key (the last key of the previous page). */
  after?: string;
}

export interface KvEntry<V> {
  key: string;
  value: V;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date | null;
}

export interface KvChange<V> {
  /** `reset`: changes were lost to this listener (see ChangeEvent); re-read the data. `key` is `''`. */
  type: 'put' | 'delete' | 'reset';
  /**
   * The store's id of the namespace or collection changed: `kv.<name>` or `c.<name>` (as in
   * quota and verify reports), so one listener on several of them knows which to re-read.
   */
  space: string;
  key: string;
  version: number | null;
  /** The new value for puts when the backend delivered it; use `get` otherwise. */
  value?: V;
  origin: 'local' | 'remote';
}

const PAGE = 500;
/** What setMany takes, for its refusals of a malformed argument. */
const SET_MANY_HINT = "pass an array of [key, value] pairs, e.g. kv.setMany([['a', 1], ['b', 2]])";

/** A key-value namespace: JSON values under string keys, with versions and expiry. */
export class KvNamespace<V = unknown> {
  readonly name: string;
  readonly #ctx: HandleContext;
  readonly #space: string;
  readonly #defaults: KvDefaults;
  /** The store's `generation()` this handle's space was last ensured in; -1 before. */
  #ready = -1;

  /** @internal Use `store.kv(name)`. */
  constructor(ctx: HandleContext, name: string, defaults: KvDefaults = new Map()) {
    this.#ctx = ctx;
    this.name = name;
    this.#space = kvSpace(name);
    this.#defaults = defaults;
  }

  /** What a read of an absent key returns: the call's `default`, the namespace's, or null. */
  #missing(key: string, options: GetOptions<unknown> | undefined): unknown {
    if (options !== undefined && options.default !== undefined) return options.default;
    const text = this.#defaults.get(key);
    return text === undefined ? null : parseJson(text);
  }

  /** Checks the store is open and declares the space on first use. Synchronous once ready: hot paths skip an await. */
  #enter(op: string): Promise<void> | undefined {
    this.#ctx.assertOpen(op);
    const generation = this.#ctx.generation();
    if (this.#ready === generation) return undefined;
    const ensured = this.#ctx.ensure(this.#space, {});
    return ensured === undefined
      ? undefined
      : ensured.then(() => {
          this.#ready = generation;
        });
  }

  #expiry(ttl: Duration | undefined): number | null {
    return ttl === undefined ? null : expiryFrom(this.#ctx.now(), parseDuration(ttl, 'ttl'));
  }

  #decode(record: StoredRecord): V {
    return parseJson(record.value) as V;
  }

  #entry(record: StoredRecord): KvEntry<V> {
    return {
      key: record.key,
      value: this.#decode(record),
      version: record.version,
      createdAt: new Date(record.createdAt),
      updatedAt: new Date(record.updatedAt),
      expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    };
  }

  /** A value refusal without the property names of this namespace's encrypted values. */
  #hide(error: unknown): unknown {
    return hideEncrypted(error, this.#ctx.encryptionOf?.(this.#space));
  }

  #read(key: string): Promise<StoredRecord | null> {
    return this.#ctx.driver.get(this.#space, key, this.#ctx.now());
  }

  async #write(ops: WriteOp[]): Promise<Array<StoredRecord | null>> {
    return this.#ctx.driver.batch(ops, this.#ctx.now());
  }

  /**
   * The value under `key`; when absent or expired, `options.default`, else the namespace's
   * default for `key`, else `null`.
   */
  get(key: string): Promise<V | null>;
  get<D>(key: string, options: GetOptions<D> & { default: D }): Promise<V | D>;
  get(key: string, options?: GetOptions<V>): Promise<V | null>;
  get(key: string, options?: GetOptions<unknown>): Promise<unknown> {
    // The hottest call: a driver with synchronous point reads is answered without awaiting
    // anything, which measurably narrows the gap to a raw better-sqlite3 read.
    try {
      checkKey(key, 'kv.get');
      if (options !== undefined) {
        checkOptions(options, GET_OPTIONS, 'kv.get');
        checkDefault(options.default, 'kv.get');
      }
      const entered = this.#enter('kv.get');
      const driver = this.#ctx.driver;
      if (entered === undefined && driver.capabilities.syncReads === true) {
        if (driver.capabilities.valueReads === true) {
          const text = driver.getValueSync!(this.#space, key, this.#ctx.now());
          return Promise.resolve(text === null ? this.#missing(key, options) : parseJson(text));
        }
        const record = driver.getSync!(this.#space, key, this.#ctx.now());
        return Promise.resolve(record === null ? this.#missing(key, options) : this.#decode(record));
      }
      return (entered ?? Promise.resolve())
        .then(() => this.#read(key))
        .then(
          (record) => (record === null ? this.#missing(key, options) : this.#decode(record)),
          (error: unknown) => {
            throw withOp(error, 'kv.get', driver.name);
          },
        );
    } catch (error) {
      return Promise.reject(withOp(error, 'kv.get', this.#ctx.driver.name));
    }
  }

  /** The value with its version and timestamps, or `null`. */
  async getEntry(key: string): Promise<KvEntry<V> | null> {
    try {
      checkKey(key, 'kv.getEntry');
      await this.#enter('kv.getEntry');
      const record = await this.#read(key);
      return record === null ? null : this.#entry(record);
    } catch (error) {
      throw withOp(error, 'kv.getEntry', this.#ctx.driver.name);
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      checkKey(key, 'kv.has');
      await this.#enter('kv.has');
      return (await this.#read(key)) !== null;
    } catch (error) {
      throw withOp(error, 'kv.has', this.#ctx.driver.name);
    }
  }

  /**
   * UTF-8 bytes of the value's JSON text as written, or `null` when absent. On an encrypted or
   * signed namespace, stats() and quotas count the larger stored form (see docs/encryption.md).
   */
  async size(key: string): Promise<number | null> {
    try {
      checkKey(key, 'kv.size');
      await this.#enter('kv.size');
      const record = await this.#read(key);
      return record === null ? null : Buffer.byteLength(record.value, 'utf8');
    } catch (error) {
      throw withOp(error, 'kv.size', this.#ctx.driver.name);
    }
  }

  /** Stores `value`; returns the new entry. */
  async set(key: string, value: V, options: SetOptions = {}): Promise<KvEntry<V>> {
    try {
      checkKey(key, 'kv.set');
      checkOptions(options, SET_OPTIONS, 'kv.set');
      checkVersion(options.ifVersion, 'kv.set');
      const text = encodeJson(value);
      const expiresAt = this.#expiry(options.ttl);
      await this.#enter('kv.set');
      const op: WriteOp = { type: 'put', space: this.#space, key, value: text, expiresAt };
      if (options.ifVersion !== undefined) op.expect = options.ifVersion;
      const [record] = await this.#write([op]);
      return this.#entry(record!);
    } catch (error) {
      throw withOp(this.#hide(error), 'kv.set', this.#ctx.driver.name);
    }
  }

  /** Deletes `key`; `true` when it existed. */
  async delete(key: string, options: { ifVersion?: number } = {}): Promise<boolean> {
    try {
      checkKey(key, 'kv.delete');
      checkOptions(options, VERSION_OPTIONS, 'kv.delete');
      checkVersion(options.ifVersion, 'kv.delete');
      await this.#enter('kv.delete');
      const op: WriteOp = { type: 'delete', space: this.#space, key };
      if (options.ifVersion !== undefined) op.expect = options.ifVersion;
      const [removed] = await this.#write([op]);
      return removed !== null;
    } catch (error) {
      throw withOp(error, 'kv.delete', this.#ctx.driver.name);
    }
  }

  /** Values for several keys at once, in the order asked; absent ones read as in `get`. */
  getMany(keys: readonly string[]): Promise<Array<V | null>>;
  getMany<D>(keys: readonly string[], options: GetOptions<D> & { default: D }): Promise<Array<V | D>>;
  getMany(keys: readonly string[], options?: GetOptions<V>): Promise<Array<V | null>>;
  async getMany(keys: readonly string[], options?: GetOptions<unknown>): Promise<unknown[]> {
    try {
      if (!Array.isArray(keys)) {
        throw new StrataError('BAD_INPUT', 'kv.getMany: keys must be an array', {
          op: 'kv.getMany',
          hint: "pass an array of keys, e.g. kv.getMany(['a', 'b']); use get() for one key",
        });
      }
      checkOptions(options, GET_OPTIONS, 'kv.getMany');
      checkDefault(options?.default, 'kv.getMany');
      for (const key of keys) checkKey(key, 'kv.getMany');
      await this.#enter('kv.getMany');
      const records = await this.#ctx.driver.getMany(this.#space, keys, this.#ctx.now());
      return records.map((r, i) => (r === null ? this.#missing(keys[i]!, options) : this.#decode(r)));
    } catch (error) {
      throw withOp(error, 'kv.getMany', this.#ctx.driver.name);
    }
  }

  /** Writes several entries as one atomic batch. */
  async setMany(entries: ReadonlyArray<readonly [string, V]>, options: Pick<SetOptions, 'ttl'> = {}): Promise<void> {
    try {
      if (!Array.isArray(entries)) {
        throw new StrataError('BAD_INPUT', 'kv.setMany: entries must be an array of [key, value]', {
          op: 'kv.setMany',
          hint: SET_MANY_HINT,
        });
      }
      checkOptions(options, TTL_OPTIONS, 'kv.setMany');
      const expiresAt = this.#expiry(options.ttl);
      const ops: WriteOp[] = new Array<WriteOp>(entries.length);
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i];
        if (!Array.isArray(entry) || entry.length !== 2) {
          throw new StrataError('BAD_INPUT', 'kv.setMany: each entry must be a [key, value] pair', {
            op: 'kv.setMany',
            hint: SET_MANY_HINT,
            details: { index: i },
          });
        }
        checkKey(entry[0], 'kv.setMany');
        ops[i] = { type: 'put', space: this.#space, key: entry[0], value: encodeJson(entry[1]), expiresAt };
      }
      await this.#enter('kv.setMany');
      if (ops.length > 0) await this.#ctx.driver.batch(ops, this.#ctx.now(), { results: false });
    } catch (error) {
      throw withOp(this.#hide(error), 'kv.setMany', this.#ctx.driver.name);
    }
  }

  /**
   * Deletes several keys as one atomic batch (all or none); returns how many existed.
   * A key listed twice counts once.
   */
  async deleteMany(keys: readonly string[], options?: Record<string, never>): Promise<number> {
    try {
      if (!Array.isArray(keys)) {
        throw new StrataError('BAD_INPUT', 'kv.deleteMany: keys must be an array', {
          op: 'kv.deleteMany',
          hint: "pass an array of keys, e.g. kv.deleteMany(['a', 'b']); use delete() for one key",
        });
      }
      checkOptions(options, NO_OPTIONS, 'kv.deleteMany');
      for (const key of keys) checkKey(key, 'kv.deleteMany');
      await this.#enter('kv.deleteMany');
      const unique = [...new Set(keys)];
      if (unique.length === 0) return 0;
      const results = await this.#write(unique.map((key) => ({ type: 'delete', space: this.#space, key })));
      return results.filter((r) => r !== null).length;
    } catch (error) {
      throw withOp(error, 'kv.deleteMany', this.#ctx.driver.name);
    }
  }

  /** Atomically reads and deletes `key`: a single-use token can be taken once. */
  async take(key: string): Promise<V | null> {
    try {
      checkKey(key, 'kv.take');
      await this.#enter('kv.take');
      return await retryOnConflict(async () => {
        const record = await this.#read(key);
        if (record === null) return null;
        await this.#write([{ type: 'delete', space: this.#space, key, ...asRead(record) }]);
        return this.#decode(record);
      });
    } catch (error) {
      throw withOp(error, 'kv.take', this.#ctx.driver.name);
    }
  }

  /** Atomically adds `by` to a numeric value (absent counts as 0); returns the new number. */
  async incr(key: string, by = 1, options: Pick<SetOptions, 'ttl'> = {}): Promise<number> {
    try {
      checkKey(key, 'kv.incr');
      checkOptions(options, TTL_OPTIONS, 'kv.incr');
      if (typeof by !== 'number' || !Number.isFinite(by)) {
        throw new StrataError('BAD_INPUT', 'kv.incr: the increment must be a finite number', {
          op: 'kv.incr',
          hint: 'pass a finite number such as 1 or -1, or leave it out for 1',
        });
      }
      const ttl = options.ttl === undefined ? undefined : this.#expiry(options.ttl);
      await this.#enter('kv.incr');
      return await retryOnConflict(async () => {
        const record = await this.#read(key);
        const current = record === null ? 0 : this.#decode(record);
        if (typeof current !== 'number') {
          throw new StrataError('BAD_INPUT', `kv.incr: the value under "${key}" is not a number`, {
            hint: 'incr works on numbers only; delete the key or use update()',
          });
        }
        const next = current + by;
        if (!Number.isFinite(next)) {
          throw new StrataError('BAD_INPUT', 'kv.incr: the result is not a finite number', {
            op: 'kv.incr',
            hint: `the sum overflows a number; the value under "${key}" is left as it was`,
          });
        }
        // Past 2^53 whole numbers are no longer exact: 2^53 + 1 reads back as 2^53, so the
        // counter would silently stop counting.
        if (Number.isInteger(current) && Number.isInteger(by) && !Number.isSafeInteger(next)) {
          throw new StrataError(
            'BAD_INPUT',
            `kv.incr: the result ${next} is past Number.MAX_SAFE_INTEGER, where whole numbers stop being exact`,
            {
              op: 'kv.incr',
              hint: `the value under "${key}" is left as it was; keep counters below 2^53, or store a bigger count as a decimal string with update()`,
            },
          );
        }
        const expiresAt = ttl ?? record?.expiresAt ?? null;
        await this.#write([{ type: 'put', space: this.#space, key, value: JSON.stringify(next), expiresAt, ...asRead(record) }]);
        return next;
      });
    } catch (error) {
      throw withOp(error, 'kv.incr', this.#ctx.driver.name);
    }
  }

  /**
   * Atomic read-modify-write: `fn` gets the current value (or `null`) and returns the next.
   * It may run more than once when other writers race, so keep it free of side effects.
   * The key's expiry is kept.
   */
  async update(key: string, fn: (current: V | null) => V | Promise<V>, options?: Record<string, never>): Promise<V> {
    try {
      checkKey(key, 'kv.update');
      checkOptions(options, NO_OPTIONS, 'kv.update');
      if (typeof fn !== 'function') {
        throw new StrataError('BAD_INPUT', 'kv.update: the updater must be a function', {
          op: 'kv.update',
          hint: 'pass a function from the current value (or null) to the next, e.g. kv.update(k, (n) => (n ?? 0) + 1); use set() to store a value',
        });
      }
      await this.#enter('kv.update');
      return await retryOnConflict(async () => {
        const record = await this.#read(key);
        let next: V;
        try {
          next = await fn(record === null ? null : this.#decode(record));
        } catch (error) {
          // The updater's own error is the caller's to handle, passed on as thrown (as
          // store.transaction does), not reported as a backend failure.
          throw new UpdaterError(error);
        }
        const text = encodeJson(next);
        await this.#write([
          {
            type: 'put',
            space: this.#space,
            key,
            value: text,
            expiresAt: record?.expiresAt ?? null,
            ...asRead(record),
          },
        ]);
        return parseJson(text) as V;
      });
    } catch (error) {
      if (error instanceof UpdaterError) throw error.thrown;
      throw withOp(this.#hide(error), 'kv.update', this.#ctx.driver.name);
    }
  }

  /** Keys in key order (code point order), optionally under a prefix and after a cursor key. */
  async list(options: ListOptions = {}): Promise<string[]> {
    try {
      checkOptions(options, LIST_OPTIONS, 'kv.list');
      checkPrefix(options.prefix, 'kv.list');
      checkLimit(options.limit, 'kv.list');
      if (options.after !== undefined) checkKey(options.after, 'kv.list');
      await this.#enter('kv.list');
      const records = await this.#ctx.driver.scan(
        this.#space,
        {
          prefix: options.prefix,
          after: options.after === undefined ? undefined : { key: options.after },
          limit: options.limit,
          keysOnly: true,
        },
        this.#ctx.now(),
      );
      return records.map((r) => r.key);
    } catch (error) {
      throw withOp(error, 'kv.list', this.#ctx.driver.name);
    }
  }

  /** Every `[key, value]` in key order, read page by page so memory stays flat. */
  async *entries(options: Pick<ListOptions, 'prefix'> = {}): AsyncGenerator<[string, V]> {
    checkOptions(options, PREFIX_OPTIONS, 'kv.entries');
    checkPrefix(options.prefix, 'kv.entries');
    await this.#enter('kv.entries');
    let after: string | undefined;
    for (;;) {
      this.#ctx.assertOpen('kv.entries');
      const records = await this.#ctx.driver.scan(
        this.#space,
        { prefix: options.prefix, after: after === undefined ? undefined : { key: after }, limit: PAGE, valuesOnly: true },
        this.#ctx.now(),
      );
      for (const record of records) yield [record.key, this.#decode(record)];
      if (records.length < PAGE) return;
      after = records[records.length - 1]!.key;
    }
  }

  /** Number of live keys, optionally under a prefix. */
  async count(options: Pick<ListOptions, 'prefix'> = {}): Promise<number> {
    try {
      checkOptions(options, PREFIX_OPTIONS, 'kv.count');
      checkPrefix(options.prefix, 'kv.count');
      await this.#enter('kv.count');
      return await this.#ctx.driver.count(this.#space, { prefix: options.prefix }, this.#ctx.now());
    } catch (error) {
      throw withOp(error, 'kv.count', this.#ctx.driver.name);
    }
  }

  /** Deletes every key (under a prefix, when given); returns how many. */
  async clear(options: Pick<ListOptions, 'prefix'> = {}): Promise<number> {
    try {
      checkOptions(options, PREFIX_OPTIONS, 'kv.clear');
      checkPrefix(options.prefix, 'kv.clear');
      await this.#enter('kv.clear');
      let removed = 0;
      // Each batch resumes after the last key deleted, so nothing is scanned twice.
      let after: string | undefined;
      for (;;) {
        const records = await this.#ctx.driver.scan(
          this.#space,
          { prefix: options.prefix, after: after === undefined ? undefined : { key: after }, limit: PAGE, keysOnly: true },
          this.#ctx.now(),
        );
        if (records.length > 0) {
          const results = await this.#write(records.map((r) => ({ type: 'delete', space: this.#space, key: r.key })));
          removed += results.filter((r) => r !== null).length;
        }
        if (records.length < PAGE) return removed;
        after = records[records.length - 1]!.key;
      }
    } catch (error) {
      throw withOp(error, 'kv.clear', this.#ctx.driver.name);
    }
  }

  /**
   * Removes the whole namespace: every key is deleted and the namespace no longer appears in
   * `store.names()` or `store.stats()`. The handle stays usable; a later write recreates it.
   * Returns how many keys were removed.
   */
  async drop(options?: Record<string, never>): Promise<number> {
    try {
      checkOptions(options, NO_OPTIONS, 'kv.drop');
    } catch (error) {
      throw withOp(error, 'kv.drop', this.#ctx.driver.name);
    }
    // names() and stats() list only spaces that hold live records, so an emptied namespace is gone.
    return this.clear();
  }

  /** Calls `listener` on every change in this namespace, from this process or others. */
  watch(listener: (change: KvChange<V>) => void): () => void {
    checkWatch(this.#ctx, listener, 'kv.watch', 'store.kv(name)');
    return this.#ctx.driver.watch((event: ChangeEvent) => {
      if (event.space !== this.#space) return;
      const change: KvChange<V> = {
        type: event.type,
        space: event.space,
        key: event.key,
        version: event.version,
        origin: event.origin,
      };
      if (event.value !== undefined) change.value = parseJson(event.value) as V;
      listener(change);
    });
  }
}

export { encodeDefaults, type KvDefaults } from './kv-checks.js';

/** Carries what a `kv.update` updater threw past the store's own error handling. */
class UpdaterError {
  constructor(readonly thrown: unknown) {}
}
