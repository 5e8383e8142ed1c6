// `stratadb/keyv`: a Keyv storage adapter, so keyv and what is built on it (cacheable, got's
// cache, session stores) keep their data in a Strata store.
//
//     import Keyv from 'keyv';
//     import { KeyvStrata } from 'stratadb/keyv';
//     const keyv = new Keyv({ store: new KeyvStrata('sqlite:cache.db'), namespace: 'sessions' });
//
// keyv's contract (keyv 5): keyv serializes values itself (to a string, with `expires`
// inside) and passes keys already prefixed with its namespace (`sessions:abc`); the adapter
// stores that string under that key, and `clear()` removes only the keys of `this.namespace`,
// which keyv sets on the adapter. A ttl also becomes a Strata ttl, so expired entries are
// swept by the store and never counted, even if keyv never reads them again.
//
// keyv accepts any string as a key; Strata keys are well-formed and at most 1,024 UTF-8
// bytes. HTTP caches key by URL (often longer), so a key Strata would refuse is stored under
// `<namespace>:\uFFFFsha256:<hex>` and its value is wrapped with the original key, which every
// read checks and `iterator()` yields (see StoredKey).
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { openStore, type OpenStoreOptions, type Store } from './store.js';
import type { KvNamespace } from './kv.js';
import { checkOptions } from './codec/options.js';
import { MAX_KEY_BYTES } from './codec/keys.js';
import { MAX_TIME_MS } from './codec/duration.js';
import { StrataError } from './errors.js';

export interface KeyvStrataOptions {
  /** The Strata kv namespace that holds every keyv entry (keyv's namespaces are key prefixes inside it). @default 'keyv' */
  name?: string;
}

/** What keyv reads from `adapter.opts`. */
export interface KeyvStrataAdapterOptions {
  /**
   * keyv 5 wires an adapter's `iterator()` into `keyv.iterator()` only for the dialects it
   * lists; Strata's iterator keeps the contract of @keyv/sqlite's (keys with their
   * `namespace:` prefix), so it says `sqlite` to be iterable on every Strata driver.
   */
  dialect: 'sqlite';
  url: string;
  name: string;
  [option: string]: unknown;
}

const OPTIONS = ['name'] as const;

/**
 * Marks a hashed key. U+FFFF is a Unicode noncharacter (reserved for internal use, never
 * assigned), so real keys practically never hold it; one that does is hashed too, so a key
 * stored as is can never be mistaken for a hashed one.
 */
const HASHED = '\uFFFFsha256:';
/** The hashed form's length after its prefix: the marker and 64 hex digits. */
const HASHED_BYTES = Buffer.byteLength(HASHED, 'utf8') + 64;

/** The value stored under a hashed key: keyv's value and its key as JSON text (which escapes a lone surrogate). */
interface Wrapped {
  key: string;
  value: unknown;
}

/**
 * Where keyv's `key` lives in the namespace. `hashed` is false when Strata takes the key as
 * it is; else `stored` keeps keyv's `<namespace>:` prefix (so `clear()` and `iterator()` of
 * that namespace still cover it) before the marker and the key's sha256.
 */
interface StoredKey {
  stored: string;
  hashed: boolean;
}

const storable = (key: string): boolean =>
  key.length > 0 && key.isWellFormed() && (key.length <= 341 || Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES);

/** A Keyv storage adapter over a Strata kv namespace. */
export class KeyvStrata extends EventEmitter {
  readonly opts: KeyvStrataAdapterOptions;
  /** Set by keyv: the namespace whose keys `clear()` and `iterator()` cover. */
  namespace: string | undefined;
  readonly #kv: Promise<KvNamespace<unknown>>;
  readonly #store: Promise<Store>;
  /** Opened here from a URL or options: `disconnect()` closes it. A Store passed in stays open. */
  readonly #owned: boolean;

  /**
   * @param store an open Store (shared with the rest of the app; stays open on `disconnect()`),
   *   or a store URL / openStore options (opened here, closed by `disconnect()`).
   */
  constructor(store: Store | string | OpenStoreOptions, options: KeyvStrataOptions = {}) {
    super();
    checkOptions(options, OPTIONS, 'KeyvStrata');
    const name = options.name ?? 'keyv';
    const given = typeof store === 'object' && store !== null && 'kv' in store && typeof store.kv === 'function';
    this.#owned = !given;
    this.#store = given ? Promise.resolve(store) : openStore(store as string | OpenStoreOptions);
    // Fails (BAD_INPUT for a bad name, or the open error) on first use, through keyv's error path.
    this.#kv = this.#store.then((s) => s.kv(name));
    this.#kv.catch(() => {});
    const url = typeof store === 'string' ? store : given ? 'strata:' : ((store as OpenStoreOptions).url ?? 'strata:');
    this.opts = { dialect: 'sqlite', url, name };
  }

  /** The stored form of keyv's `key` (a key that is not a string is left for kv to refuse). */
  #where(key: string): StoredKey {
    if (typeof key !== 'string' || (storable(key) && !key.includes(HASHED))) return { stored: key, hashed: false };
    const prefix = this.namespace ? `${this.namespace}:` : '';
    const keep = prefix !== '' && key.startsWith(prefix) && prefixKept(prefix);
    // Hashed as JSON text: UTF-8 would turn every lone surrogate into U+FFFD, making keys collide.
    const digest = createHash('sha256').update(JSON.stringify(key), 'utf8').digest('hex');
    return { stored: `${keep ? prefix : ''}${HASHED}${digest}`, hashed: true };
  }

  async get(key: string): Promise<unknown> {
    const where = this.#where(key);
    return unwrap(key, where, await (await this.#kv).get(where.stored));
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    const wheres = keys.map((key) => this.#where(key));
    const values = await (await this.#kv).getMany(wheres.map((w) => w.stored));
    return values.map((v, i) => unwrap(keys[i]!, wheres[i]!, v));
  }

  async has(key: string): Promise<boolean> {
    const where = this.#where(key);
    if (!where.hashed) return (await this.#kv).has(key);
    return (await this.get(key)) !== undefined;
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return (await this.getMany(keys)).map((v) => v !== undefined);
  }

  /**
   * `ttl` in ms (keyv's); absent or 0: no Strata expiry. A negative ttl means the entry is
   * already expired for keyv: the key is deleted, so `has()` (which keyv does not check
   * against `expires`) agrees with `get()`.
   */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const kv = await this.#kv;
    const where = this.#where(key);
    const expiry = ttlOption(ttl);
    if (expiry === EXPIRED) await kv.delete(where.stored);
    else await kv.set(where.stored, wrap(key, where, value), expiry);
    return true;
  }

  /** Writes every entry in one transaction: all or none. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const kv = await this.#kv;
    await (
      await this.#store
    ).transaction(async (tx) => {
      const space = tx.kv(kv.name);
      for (const { key, value, ttl } of entries) {
        const where = this.#where(key);
        const expiry = ttlOption(ttl);
        if (expiry === EXPIRED) await space.delete(where.stored);
        else await space.set(where.stored, wrap(key, where, value), expiry);
      }
    });
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#kv).delete(this.#where(key).stored);
  }

  /** Deletes the keys in one atomic batch; `true` when at least one existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await (await this.#kv).deleteMany(keys.map((key) => this.#where(key).stored))) > 0;
  }

  /** Removes the entries of keyv's current namespace (every entry when it has none). */
  async clear(): Promise<void> {
    const kv = await this.#kv;
    if (!this.namespace) {
      await kv.clear({});
      return;
    }
    const prefix = `${this.namespace}:`;
    const unprefixed: string[] = [];
    for await (const [stored] of this.#unprefixedHashed(prefix)) unprefixed.push(stored);
    if (storable(prefix)) await kv.clear({ prefix });
    if (unprefixed.length > 0) await kv.deleteMany(unprefixed);
  }

  /**
   * `[stored key, keyv's key, value]` of the hashed keys of namespace `prefix` that are stored
   * without it: a prefix too long to fit before a hash, or one Strata cannot store (see #where).
   */
  async *#unprefixedHashed(prefix: string): AsyncGenerator<[string, string, unknown]> {
    if (prefixKept(prefix)) return;
    const kv = await this.#kv;
    for await (const [stored, value] of kv.entries({ prefix: HASHED })) {
      const wrapped = asWrapped(value);
      if (wrapped === null) continue;
      const key = JSON.parse(wrapped.key) as string;
      if (key.startsWith(prefix)) yield [stored, key, wrapped.value];
    }
  }

  /**
   * `[key, serialized value]` of a namespace (keys keep their `namespace:` prefix), in stored
   * key order (a hashed key sorts by its hash), each hashed key as keyv gave it.
   */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown]> {
    const kv = await this.#kv;
    const prefix = namespace ? `${namespace}:` : '';
    if (prefix === '' || storable(prefix)) {
      for await (const [stored, value] of kv.entries(prefix ? { prefix } : {})) {
        if (!stored.includes(HASHED)) yield [stored, value];
        else {
          const wrapped = asWrapped(value);
          if (wrapped !== null) yield [JSON.parse(wrapped.key) as string, wrapped.value];
        }
      }
    }
    if (prefix !== '') for await (const [, key, value] of this.#unprefixedHashed(prefix)) yield [key, value];
  }

  /** Closes the store when this adapter opened it. */
  async disconnect(): Promise<void> {
    if (this.#owned) await (await this.#store).close();
  }
}

/** Whether a hashed key of namespace `prefix` keeps the prefix (so a prefix scan finds it). */
function prefixKept(prefix: string): boolean {
  return storable(prefix) && Buffer.byteLength(prefix, 'utf8') + HASHED_BYTES <= MAX_KEY_BYTES;
}

/** `ttlOption` of a negative ttl: the entry is expired as soon as it is written. */
const EXPIRED = Symbol('expired');

/**
 * The Strata ttl of keyv's `ttl` (ms). A ttl reaching past the last time a Date can hold
 * (`Number.MAX_SAFE_INTEGER`, "forever") gets no Strata expiry: keyv's own `expires`, which
 * it computes on the same wall clock, still applies.
 */
function ttlOption(ttl: number | undefined): { ttl?: number } | typeof EXPIRED {
  if (ttl === undefined || ttl === null) return {};
  if (typeof ttl !== 'number' || Number.isNaN(ttl)) {
    throw new StrataError('BAD_INPUT', `KeyvStrata: ttl must be a number of milliseconds, got ${String(ttl)}`, {
      op: 'KeyvStrata.set',
      hint: 'pass keyv a ttl in milliseconds, or none for no expiry',
    });
  }
  if (ttl < 0) return EXPIRED;
  return ttl > 0 && Date.now() + ttl <= MAX_TIME_MS ? { ttl } : {};
}

/** What keyv reads back: the value itself, or the wrapped value when it belongs to this very key. */
function unwrap(key: string, where: StoredKey, value: unknown): unknown {
  if (value === null) return undefined;
  if (!where.hashed) return value;
  const wrapped = asWrapped(value);
  return wrapped !== null && wrapped.key === JSON.stringify(key) ? wrapped.value : undefined;
}

/** What is stored for keyv's `value` under `where`. */
function wrap(key: string, where: StoredKey, value: unknown): unknown {
  return where.hashed ? ({ key: JSON.stringify(key), value } satisfies Wrapped) : value;
}

/** `value` as a Wrapped value, or null when it is not one. */
function asWrapped(value: unknown): Wrapped | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const { key } = value as Partial<Wrapped>;
  return typeof key === 'string' && Object.hasOwn(value, 'value') ? (value as Wrapped) : null;
}
