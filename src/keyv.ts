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
import { EventEmitter } from 'node:events';
import { openStore, type OpenStoreOptions, type Store } from './store.js';
import type { KvNamespace } from './kv.js';
import { checkOptions } from './codec/options.js';
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

  async get(key: string): Promise<unknown> {
    const value = await (await this.#kv).get(key);
    return value === null ? undefined : value;
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    const values = await (await this.#kv).getMany(keys);
    return values.map((v) => (v === null ? undefined : v));
  }

  async has(key: string): Promise<boolean> {
    return (await this.#kv).has(key);
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    const values = await (await this.#kv).getMany(keys);
    return values.map((v) => v !== null);
  }

  /** `ttl` in ms (keyv's); absent, 0 or negative: no Strata expiry (keyv still checks its own `expires`). */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    await (await this.#kv).set(key, value, ttlOption(ttl));
    return true;
  }

  /** Writes every entry in one transaction: all or none. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const kv = await this.#kv;
    await (
      await this.#store
    ).transaction(async (tx) => {
      const space = tx.kv(kv.name);
      for (const { key, value, ttl } of entries) await space.set(key, value, ttlOption(ttl));
    });
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#kv).delete(key);
  }

  /** Deletes the keys in one atomic batch; `true` when at least one existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await (await this.#kv).deleteMany(keys)) > 0;
  }

  /** Removes the entries of keyv's current namespace (every entry when it has none). */
  async clear(): Promise<void> {
    const kv = await this.#kv;
    await kv.clear(this.namespace ? { prefix: `${this.namespace}:` } : {});
  }

  /** `[key, serialized value]` of a namespace (keys keep their `namespace:` prefix), in key order. */
  async *iterator(namespace?: string): AsyncGenerator<[string, unknown]> {
    const kv = await this.#kv;
    yield* kv.entries(namespace ? { prefix: `${namespace}:` } : {});
  }

  /** Closes the store when this adapter opened it. */
  async disconnect(): Promise<void> {
    if (this.#owned) await (await this.#store).close();
  }
}

function ttlOption(ttl: number | undefined): { ttl?: number } {
  if (ttl === undefined || ttl === null) return {};
  if (typeof ttl !== 'number' || Number.isNaN(ttl)) {
    throw new StrataError('BAD_INPUT', `KeyvStrata: ttl must be a number of milliseconds, got ${String(ttl)}`);
  }
  return ttl > 0 && Number.isFinite(ttl) ? { ttl } : {};
}
