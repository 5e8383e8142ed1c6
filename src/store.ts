import { join } from 'node:path';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Driver, SpaceSpec, VerifyReport } from './drivers/driver.js';
import { driverFromUrl, type Durability } from './drivers/registry.js';
import { spaceKind, type HandleContext } from './context.js';
import { KvNamespace, type KvOptions } from './kv.js';
import { Collection, type CollectionOptions } from './collection.js';
import { TransactionDriver } from './transaction.js';
import { checkName } from './codec/keys.js';
import { parseDuration, type Duration } from './codec/duration.js';
import { appDataDir } from './paths.js';
import { StrataError, withOp } from './errors.js';

/** The embedded default: an SQLite file in the working directory. */
export const DEFAULT_URL = 'sqlite:.strata/strata.db';

export interface OpenStoreOptions {
  /** `sqlite:path/app.db`, `file:path/dir`, `memory:`. @default 'sqlite:.strata/strata.db' */
  url?: string;
  /** A driver instance (or layer stack) to use instead of `url`. */
  driver?: Driver;
  /** Keep data in the OS-conventional place for this app (see `env`). */
  appName?: string;
  /** With `appName`: one data directory per environment. @default process.env.NODE_ENV ?? 'development' */
  env?: string;
  /** `'full'`: an acknowledged write survives power loss; `'normal'`: survives a process crash. @default 'full' */
  durability?: Durability;
  /** How often expired records are physically removed; `false` turns the sweeper off. @default '1m' */
  sweepInterval?: Duration | false;
  /** The clock, in epoch ms (for tests). @default Date.now */
  clock?: () => number;
}

/** Resulting document type of a collection declared with a schema. */
type DocOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> & object : Record<string, unknown>;
type InputOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : Record<string, unknown>;

export interface StoreStats {
  driver: string;
  location?: string;
  storageBytes?: number;
  kv: Array<{ name: string; records: number; bytes: number }>;
  collections: Array<{ name: string; records: number; bytes: number }>;
  records: number;
  bytes: number;
}

export interface TransactionOptions {
  /** How many times to rerun the function when a concurrent writer conflicts. @default 10 */
  retries?: number;
}

/** A transaction's view of the store: kv namespaces and collections whose writes commit together. */
export interface TransactionScope {
  kv<V = unknown>(name: string): KvNamespace<V>;
  collection<T extends object = Record<string, unknown>>(name: string): Collection<T, T, string>;
}

/** An open store: hands out kv namespaces and collections over one driver stack. */
export class Store {
  readonly driver: Driver;
  readonly #now: () => number;
  readonly #spaces = new Map<string, Promise<void>>();
  readonly #definitions = new Map<string, CollectionOptions<StandardSchemaV1 | undefined, string>>();
  readonly #context: HandleContext;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Use `openStore()`. */
  constructor(driver: Driver, options: { clock?: () => number; sweepMs: number | false }) {
    this.driver = driver;
    this.#now = options.clock ?? Date.now;
    this.#context = this.#contextFor(driver, false);
    if (options.sweepMs !== false) {
      this.#sweeper = setInterval(() => {
        this.driver.purgeExpired(this.#now()).catch(() => {
          // Expired records stay invisible either way; the next sweep tries again.
        });
      }, options.sweepMs);
      this.#sweeper.unref();
    }
  }

  #contextFor(driver: Driver, inTransaction: boolean): HandleContext {
    return {
      driver,
      now: this.#now,
      inTransaction,
      ensure: (space, spec) => this.#ensure(space, spec),
      assertOpen: (op) => this.#assertOpen(op),
    };
  }

  #assertOpen(op: string): void {
    if (this.#closed) {
      throw new StrataError('CLOSED', `${op}: the store is closed`, { op, hint: 'open it again with openStore()' });
    }
  }

  #ensure(space: string, spec: SpaceSpec): Promise<void> {
    const id = `${space}\u0000${JSON.stringify(spec.indexes ?? [])}`;
    let ready = this.#spaces.get(id);
    if (ready === undefined) {
      ready = this.driver.ensureSpace(space, spec);
      ready.catch(() => this.#spaces.delete(id));
      this.#spaces.set(id, ready);
    }
    return ready;
  }

  /** A key-value namespace. */
  kv<V = unknown>(name: string, options: KvOptions = {}): KvNamespace<V> {
    this.#assertOpen('store.kv');
    checkName(name, 'namespace');
    if (options.encrypt) {
      throw new StrataError('UNSUPPORTED', `kv "${name}": encryption needs an encryption keyring`, {
        hint: 'remove the `encrypt` option: this version of Strata stores values as they are',
      });
    }
    return new KvNamespace<V>(this.#context, name);
  }

  /** A collection of documents, typed by its schema. */
  collection<S extends StandardSchemaV1 | undefined = undefined, const K extends string = 'id'>(
    name: string,
    options?: CollectionOptions<S, K>,
  ): Collection<DocOf<S>, InputOf<S>, K> {
    this.#assertOpen('store.collection');
    checkName(name, 'collection');
    const definition = options ?? this.#definitions.get(name) ?? {};
    const collection = new Collection<DocOf<S>, InputOf<S>, K>(this.#context, name, definition);
    this.#definitions.set(name, definition);
    return collection;
  }

  /**
   * Runs `fn` as one all-or-nothing unit across kv namespaces and collections. Reads see the
   * transaction's own writes; at the end every write commits in one atomic batch, guarded by
   * the versions read. When a concurrent writer changed something read, `fn` runs again (so
   * keep it free of outside side effects); after `retries` it rejects with CONFLICT.
   */
  async transaction<R>(fn: (tx: TransactionScope) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
    this.#assertOpen('store.transaction');
    if (typeof fn !== 'function') throw new StrataError('BAD_INPUT', 'store.transaction needs a function');
    const retries = options.retries ?? 10;
    for (let attempt = 0; ; attempt++) {
      const txDriver = new TransactionDriver(this.driver);
      const ctx = this.#contextFor(txDriver, true);
      const scope: TransactionScope = {
        kv: <V>(name: string) => {
          checkName(name, 'namespace');
          return new KvNamespace<V>(ctx, name);
        },
        collection: <T extends object>(name: string) => {
          checkName(name, 'collection');
          return new Collection<T, T, string>(ctx, name, this.#definitions.get(name) ?? {});
        },
      };
      const result = await fn(scope);
      try {
        await txDriver.commit(this.#now());
        return result;
      } catch (error) {
        if (!StrataError.is(error, 'CONFLICT') || attempt >= retries) throw withOp(error, 'store.transaction', this.driver.name);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * 2 ** attempt)));
      }
    }
  }

  /** Record counts and sizes per namespace and collection. */
  async stats(): Promise<StoreStats> {
    this.#assertOpen('store.stats');
    try {
      const raw = await this.driver.stats();
      const out: StoreStats = { driver: raw.driver, kv: [], collections: [], records: 0, bytes: 0 };
      if (raw.location !== undefined) out.location = raw.location;
      if (raw.storageBytes !== undefined) out.storageBytes = raw.storageBytes;
      for (const s of raw.spaces) {
        const kind = spaceKind(s.space);
        if (kind === null) continue;
        (kind.kind === 'kv' ? out.kv : out.collections).push({ name: kind.name, records: s.records, bytes: s.bytes });
        out.records += s.records;
        out.bytes += s.bytes;
      }
      out.kv.sort((a, b) => (a.name < b.name ? -1 : 1));
      out.collections.sort((a, b) => (a.name < b.name ? -1 : 1));
      return out;
    } catch (error) {
      throw withOp(error, 'store.stats', this.driver.name);
    }
  }

  /** Checks the whole store for corruption; `ok: false` lists what is wrong. */
  async verify(): Promise<VerifyReport> {
    this.#assertOpen('store.verify');
    try {
      return await this.driver.verify();
    } catch (error) {
      throw withOp(error, 'store.verify', this.driver.name);
    }
  }

  /** Names of the kv namespaces and collections that hold data. */
  async names(): Promise<{ kv: string[]; collections: string[] }> {
    this.#assertOpen('store.names');
    const out = { kv: [] as string[], collections: [] as string[] };
    for (const space of await this.driver.spaces()) {
      const kind = spaceKind(space);
      if (kind) (kind.kind === 'kv' ? out.kv : out.collections).push(kind.name);
    }
    return out;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Releases every handle, timer and connection, so the process can exit. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#closing = this.driver.close();
    return this.#closing;
  }
}

const KNOWN_OPTIONS = new Set(['url', 'driver', 'appName', 'env', 'durability', 'sweepInterval', 'clock']);
/** Options of the design that this version does not implement yet: refused, never ignored. */
const NOT_YET = new Set(['cache', 'blobs', 'archive', 'encryption', 'journal']);

function checkOptionNames(opts: object): void {
  for (const name of Object.keys(opts)) {
    if (KNOWN_OPTIONS.has(name)) continue;
    if (NOT_YET.has(name)) {
      throw new StrataError('UNSUPPORTED', `openStore: the "${name}" option is not available in this version of Strata`, {
        hint: 'remove it; data would otherwise be stored without what it promises',
      });
    }
    throw new StrataError('BAD_INPUT', `openStore: unknown option "${name}"`, {
      hint: `known options: ${[...KNOWN_OPTIONS].join(', ')}`,
    });
  }
}

/**
 * Opens a store. With no argument: the embedded SQLite file `./.strata/strata.db`.
 * A string is a URL (`sqlite:app.db`, `file:data`, `memory:`).
 */
export async function openStore(options: string | OpenStoreOptions = {}): Promise<Store> {
  const opts: OpenStoreOptions = typeof options === 'string' ? { url: options } : options;
  if (opts === null || typeof opts !== 'object') {
    throw new StrataError('BAD_INPUT', 'openStore takes a URL string or an options object');
  }
  checkOptionNames(opts);
  const durability = opts.durability ?? 'full';
  if (durability !== 'full' && durability !== 'normal') {
    throw new StrataError('BAD_INPUT', `durability must be 'full' or 'normal', got ${JSON.stringify(durability)}`);
  }
  const sweepMs = opts.sweepInterval === false ? false : parseDuration(opts.sweepInterval ?? '1m', 'sweepInterval');
  let driver = opts.driver;
  if (driver === undefined) {
    let url = opts.url;
    if (url === undefined && opts.appName !== undefined) {
      // Escaped so a `%`, `?` or `#` in the data directory stays part of the path.
      url = `sqlite:${encodeURIComponent(join(appDataDir(opts.appName, opts.env ?? process.env.NODE_ENV ?? 'development'), 'strata.db'))}`;
    }
    driver = await driverFromUrl(url ?? DEFAULT_URL, durability);
    // Drivers may open lazily; one cheap call here makes CORRUPT or LOCKED surface at open.
    try {
      await driver.spaces();
    } catch (error) {
      await driver.close().catch(() => {});
      throw withOp(error, 'openStore', driver.name);
    }
  }
  const storeOptions: { clock?: () => number; sweepMs: number | false } = { sweepMs };
  if (opts.clock) storeOptions.clock = opts.clock;
  return new Store(driver, storeOptions);
}
