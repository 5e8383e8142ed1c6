import { progressCallback } from './progress-callback.js';
import { recordOwner } from './handle-owner.js';
import { join } from 'node:path';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Driver, SpaceSpec, VerifyOptions, VerifyProgress, VerifyReport } from './drivers/driver.js';
import { driverFromUrl, type Durability } from './drivers/registry.js';
import { collectionSpace, kvSpace, spaceKind, type HandleContext } from './context.js';
import { liveNames, liveStats, type StoreStats } from './store-stats.js';
import { encodeDefaults, KvNamespace, type KvDefaults, type KvOptions } from './kv.js';
import { Collection } from './collection.js';
import type { CollectionOptions } from './collection-types.js';
import {
  checkRedeclare,
  optionsOf,
  readAllSpecs,
  readSpec,
  setOptions,
  specOf,
  writeSpec,
  type AnyCollectionOptions,
  type CollectionSpec,
  forgetSpec,
} from './collection-specs.js';
import { Settings, type SettingsOptions, type SettingsTransaction } from './settings.js';
import { checkOptions } from './codec/options.js';
import { TransactionDriver } from './transaction.js';
import { checkName } from './codec/keys.js';
import { MAX_TIME_MS, MAX_TIMER_MS, parseDuration, type Duration } from './codec/duration.js';
import { checkedTime, readClock } from './clock.js';
import { appDataDir } from './paths.js';
import { StrataError, withOp } from './errors.js';
import { parseEncryption, type EncryptionOptions } from './crypto/keyring.js';
import { checkNoCryptoTraces, openCrypto, readCryptoState } from './crypto/state.js';
import { parseEncryptFields, type SpaceEncryption } from './crypto/spec.js';
import { rewriteIndexes } from './crypto/filters.js';
import { rotateKeys, type RotateOptions, type RotationReport } from './crypto/rotate.js';
import { EncryptionLayer } from './layers/encryption.js';
import { parseQuota, quotaLayer, sameQuota, type Quota, type QuotaDriver } from './layers/quota.js';
import { ALL_USER_SPACES } from './drivers/quota-usage.js';
import { Sweeper } from './ops/sweep.js';
import { verifyJournal, withJournal } from './ops/journal-open.js';
import { withLoadMark } from './ops/journal-loads.js';
import { restoreToPointInTime } from './ops/pitr-store.js';
import type { PitrPlan } from './ops/pitr.js';
import { parseJournalOptions, type JournalOptions } from './ops/journal-state.js';
import { Scheduler, type ScheduledFunction, type ScheduledJob, type ScheduleOptions } from './ops/schedule.js';
import { gaugesText, Observer, type MetricsOptions } from './observe/observer.js';
import type { StoreLogger } from './observe/logger.js';
import { migrate, Migrations, type MigrationHost } from './ops/migrate.js';
import { storeRestorePoints } from './ops/migrate-restore.js';
import { LOCK_SPACE } from './ops/migrate-lock.js';
import type { MigrateOptions, MigrateResult, MigrationSource } from './ops/migrate-types.js';
import {
  backupStore,
  listBackups,
  pruneBackups,
  restoreBackup,
  RESTORE_OPTIONS,
  verifyBackup,
  type BackupInfo,
  type BackupOptions,
  type BackupResult,
  type BackupTarget,
  type DamagedBackupInfo,
  type PruneOptions,
  type PruneResult,
  type RestoreOptions,
  type RestoreResult,
  type VerifyBackupOptions,
  type VerifyBackupResult,
} from './ops/backup.js';
import { bottomDriver, type TransferContext } from './ops/transfer/context.js';
import { exportStore, type ExportOptions, type ExportReport } from './ops/transfer/export.js';
import { importStore, type ImportOptions, type ImportReport } from './ops/transfer/import.js';
import { loadRecords } from './ops/image.js';

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
  /** The keyring for `encrypt` on namespaces and collections, and record MACs (`integrity: 'mac'`). */
  encryption?: EncryptionOptions;
  /**
   * Limits every kv namespace and collection together to `records` live records and/or
   * `bytes` of keys and values: a write past it is QUOTA_EXCEEDED and changes nothing.
   */
  quota?: Quota;
  /**
   * Structured logs: a pino logger (or anything with its `debug/info/warn/error(obj, msg)`
   * shape), or `true` for pino at level info on stderr. One warn/error line per failed
   * operation with its code, op and space (never keys or values); debug: one line per
   * operation with its duration; info: open and close. See docs/observability.md. @default no logging
   */
  logger?: StoreLogger | boolean;
  /**
   * Counts and times every operation per namespace and collection for `store.metrics()`
   * (Prometheus text), and writes this process's counters to the store for `strata stats`.
   * @default false (then `store.metrics()` has the records and bytes gauges only)
   */
  metrics?: boolean | MetricsOptions;
  /**
   * Keep a change journal for point-in-time restore: every committed put and delete, written
   * in the same atomic step, kept for `retention` (e.g. `'7d'`). Once a store has one, every
   * process that opens it journals (with the remembered retention). See docs/journal.md.
   */
  journal?: JournalOptions;
}

/** Resulting document type of a collection declared with a schema. */
type DocOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> & object : Record<string, unknown>;
type InputOf<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : Record<string, unknown>;

export type { SpaceUsage, StoreStats } from './store-stats.js';
export type { CollectionSpec } from './collection-specs.js';

export interface TransactionOptions {
  /** How many times to rerun the function when a concurrent writer conflicts. @default 10 */
  retries?: number;
}

/** A transaction's view of the store: kv namespaces and collections whose writes commit together. */
export interface TransactionScope {
  kv<V = unknown>(name: string): KvNamespace<V>;
  collection<T extends object = Record<string, unknown>>(name: string): Collection<T, T, string>;
}

/**
 * `tx.kv(name)` / `tx.collection(name)` take the name alone: their options (encrypt, quota,
 * schema, defaults...) are the ones declared on the store. Options passed here were silently
 * dropped, so a plain JavaScript caller's `tx.kv(name, { encrypt: true })` wrote plain text.
 */
function refuseTxOptions(kind: 'kv' | 'collection', name: string, extra: unknown[]): void {
  if (extra.length === 0 || (extra.length === 1 && extra[0] === undefined)) return;
  throw new StrataError('BAD_INPUT', `tx.${kind}("${name}") takes only a name, not options`, {
    op: `tx.${kind}`,
    hint: `declare the options once with store.${kind}("${name}", { ... }) (outside the transaction); tx.${kind}("${name}") then uses them`,
  });
}

/** `store.backups`: the backups kept for a store (see README "Backups and restore"). */
export interface StoreBackups {
  /** Newest first; a backup whose manifest is damaged is listed with `damaged: true`. */
  list(options?: { dir?: string | BackupTarget }): Promise<Array<BackupInfo | DamagedBackupInfo>>;
  /** Rebuilds the backup in scratch space and checks its integrity and counts; CORRUPT when damaged. */
  verify(idOrPath: string, options?: VerifyBackupOptions): Promise<VerifyBackupResult>;
  /** Keeps the newest `keep` and every backup younger than `maxAge`; deletes the others. */
  prune(options: PruneOptions): Promise<PruneResult>;
}

/** An open store: hands out kv namespaces and collections over one driver stack. */
export class Store {
  /** The driver stack the store works through: the given driver under the quota layer. */
  readonly driver: Driver;
  readonly #quotas: QuotaDriver;
  readonly #now: () => number;
  readonly #spaces = new Map<string, Promise<void>>();
  /** The options each collection is used with in this process: declared here, or remembered in the store. */
  readonly #definitions = new Map<string, CollectionOptions<StandardSchemaV1 | undefined, string>>();
  /** Collections declared with options in this process: their spec is written to the store on first use. */
  readonly #declared = new Set<string>();
  /** Specs remembered in the store when it was opened (a damaged one is its CORRUPT error). */
  #remembered = new Map<string, CollectionSpec | StrataError>();
  /** kv namespaces declared with options in this process, and the text their options compare by. */
  readonly #kvDefinitions = new Map<string, { text: string; defaults: KvDefaults }>();
  readonly #context: HandleContext;
  /** The encryption layer on top of the driver stack, when the store has a keyring or encrypted data. */
  readonly #crypto: EncryptionLayer | undefined;
  readonly #sweeper: Sweeper;
  readonly #scheduler: Scheduler<Store>;
  readonly #observer: Observer | undefined;
  #closed = false;
  /** Set by a restore that changed the encryption state: this handle's layer is stale. */
  #restoredAway = false;
  /** How many restores this handle made (HandleContext.generation). */
  #generation = 0;
  #closing: Promise<void> | undefined;
  /** Applied and pending migrations, and `down` (see README "Migrations"). */
  readonly migrations: Migrations;

  /** @internal Use `openStore()`. */
  constructor(driver: Driver, options: { clock?: () => number; sweepMs: number | false; quota?: Quota; observer?: Observer }) {
    this.#crypto = encryptionLayerOf(driver);
    this.#quotas = quotaLayer(driver);
    if (options.quota !== undefined) this.#quotas.setQuota(ALL_USER_SPACES, options.quota);
    this.#now = options.clock ?? Date.now;
    this.#observer = options.observer;
    this.driver = this.#observer?.wrap(this.#quotas, this.#now) ?? this.#quotas;
    this.#context = this.#contextFor(this.driver, false);
    this.#sweeper = new Sweeper(this.driver, this.#now, () => this.#closed);
    if (options.sweepMs !== false) this.#sweeper.every(options.sweepMs);
    this.#scheduler = new Scheduler<Store>(this.driver, this.#now, this);
    this.migrations = new Migrations(this.#migrationHost());
  }

  /**
   * Applies the pending migrations of `source` (`{ dir }` or `{ migrations: [...] }`) in name
   * order, one migrator at a time across processes, each as one atomic step with its
   * `_migrations` record; a run that fails is undone as a whole. See README "Migrations".
   */
  async migrate(source: MigrationSource, options?: MigrateOptions): Promise<MigrateResult> {
    this.#assertOpen('store.migrate');
    return migrate(this.#migrationHost(), source, options, () => this.migrations.remember(source));
  }

  #migrationHost(): MigrationHost {
    return {
      ...storeRestorePoints(this, (point) => this.#restore(point, undefined, [LOCK_SPACE])),
      driver: this.driver,
      now: this.#now,
      assertOpen: (op) => this.#assertOpen(op),
      scope: (driver) => {
        const ctx = this.#contextFor(driver, true);
        return {
          kv: <V>(name: string) => {
            checkName(name, 'namespace');
            return new KvNamespace<V>(ctx, name, this.#kvDefinitions.get(name)?.defaults);
          },
          collection: <T extends object>(name: string) => {
            checkName(name, 'collection');
            return new Collection<T, T, string>(ctx, name, this.#definitions.get(name) ?? this.#rememberedOptions(name));
          },
        };
      },
    };
  }

  /**
   * Physically removes every expired record now, in chunks of a few thousand with the event
   * loop free between them (what the background sweeper does every `sweepInterval`); resolves
   * with how many. Expired records are invisible to reads either way. A sweep already running
   * is joined, not doubled.
   */
  async purgeExpired(): Promise<number> {
    this.#assertOpen('store.purgeExpired');
    try {
      return await this.#sweeper.sweep();
    } catch (error) {
      throw withOp(error, 'store.purgeExpired', this.driver.name);
    }
  }

  /**
   * Runs `fn` at every slot of the cron expression `cron` (5 fields, or 6 with seconds first),
   * at most once per slot across every process that opens this store: a process runs a slot
   * only after claiming it in the store with a conditional write. Outcomes are kept in the
   * store and shown by `stats()` and `strata stats`. See README "Schedules".
   */
  schedule(cron: string, name: string, fn: ScheduledFunction<Store>, options?: ScheduleOptions): ScheduledJob {
    this.#assertOpen('store.schedule');
    return this.#scheduler.schedule(cron, name, fn, options);
  }

  #contextFor(driver: Driver, inTransaction: boolean): HandleContext {
    return {
      driver,
      now: this.#now,
      inTransaction,
      ensure: (space, spec) => this.#ensure(space, spec),
      assertOpen: (op) => this.#assertOpen(op),
      generation: () => this.#generation,
      forget: (space) => this.#forget(space),
      encryptionOf: (space) => this.#crypto?.specOf(space),
    };
  }

  #forgetEnsured(): void {
    this.#spaces.clear();
    this.#generation++;
  }

  async #forget(space: string): Promise<void> {
    for (const id of [...this.#spaces.keys()]) if (id.startsWith(`${space}\u0000`)) this.#spaces.delete(id);
    const kind = spaceKind(space);
    if (kind?.kind !== 'collection') return;
    this.#definitions.delete(kind.name);
    this.#declared.delete(kind.name);
    this.#remembered.delete(kind.name);
    await forgetSpec(this.driver, kind.name, this.#now());
  }

  #assertOpen(op: string): void {
    if (this.#closed) {
      throw new StrataError('CLOSED', `${op}: the store is closed`, { op, hint: 'open it again with openStore()' });
    }
    if (this.#restoredAway) {
      throw new StrataError(
        'CLOSED',
        `${op}: a restore changed this store's encryption state, so this handle can no longer read or write it`,
        {
          op,
          hint: 'call store.close() and open the store again with openStore() (with the keyring of the backup, if it has one)',
        },
      );
    }
  }

  /** @internal Reads the remembered collection specs; `openStore` calls it once. */
  async load(): Promise<void> {
    this.#remembered = await readAllSpecs(this.driver, this.#now());
    // Handles made without options (transactions' included) start from what is remembered.
    // A collection declared in this process keeps its declaration (schema included) when a
    // restore reloads the specs: the schema is not in the store, and import checks by it.
    for (const [name, spec] of this.#remembered) {
      if (!(spec instanceof StrataError) && !this.#declared.has(name)) this.#definitions.set(name, optionsOf(spec));
    }
  }

  #ensure(space: string, spec: SpaceSpec): Promise<void> {
    const encrypted = this.#crypto?.specOf(space);
    if (encrypted !== undefined && this.#crypto !== undefined) {
      // Remembered in the store before the first write, so every process decrypts it.
      const id = `${space}\u0000encryption`;
      let remembered = this.#spaces.get(id);
      if (remembered === undefined) {
        remembered = this.#crypto.remember(space, this.#now());
        remembered.catch(() => this.#spaces.delete(id));
        this.#spaces.set(id, remembered);
      }
      return remembered.then(() => this.#ensureSpace(space, spec));
    }
    return this.#ensureSpace(space, spec);
  }

  #ensureSpace(space: string, spec: SpaceSpec): Promise<void> {
    const kind = spaceKind(space);
    const declared = kind?.kind === 'collection' && this.#declared.has(kind.name) ? kind.name : null;
    // A declaration with other options (same indexes, say, but timestamps) must be remembered too.
    const remember = declared === null ? '' : JSON.stringify(specOf(this.#definitions.get(declared)!));
    const id = `${space}\u0000${JSON.stringify(spec.indexes ?? [])}\u0000${remember}`;
    let ready = this.#spaces.get(id);
    if (ready === undefined) {
      ready = this.driver.ensureSpace(space, spec);
      // First use of a collection declared with options: remember them in the store.
      if (declared !== null) {
        ready = ready.then(() => writeSpec(this.driver, declared, specOf(this.#definitions.get(declared)!), this.#now()));
      }
      ready.catch(() => this.#spaces.delete(id));
      this.#spaces.set(id, ready);
    }
    return ready;
  }

  /**
   * A key-value namespace. Options are remembered for this process: `store.kv(name)` later
   * gets the same `defaults`; declaring it again with different options is BAD_INPUT.
   */
  kv<V = unknown>(name: string, options?: KvOptions<V>): KvNamespace<V> {
    this.#assertOpen('store.kv');
    checkName(name, 'namespace', 'store.kv');
    checkOptions(options, KV_OPTIONS, 'store.kv');
    if (options?.encrypt !== undefined && typeof options.encrypt !== 'boolean') {
      throw new StrataError('BAD_INPUT', 'store.kv: encrypt must be a boolean', { op: 'store.kv' });
    }
    if (options?.encrypt !== undefined)
      this.#declareEncryption(
        kvSpace(name),
        options.encrypt ? { whole: true, fields: [] } : undefined,
        options.encrypt,
        'store.kv',
      );
    const quota =
      options?.quota === undefined
        ? undefined
        : this.#checkQuota(kvSpace(name), `kv namespace "${name}"`, options.quota, 'store.kv');
    if (options?.defaults === undefined) {
      if (quota !== undefined) this.#quotas.setQuota(kvSpace(name), quota);
      return this.#observed(
        new KvNamespace<V>(this.#context, name, this.#kvDefinitions.get(name)?.defaults),
        'kv',
        kvSpace(name),
      );
    }
    const defaults = encodeDefaults(options.defaults, 'store.kv');
    const text = JSON.stringify([...defaults]);
    const known = this.#kvDefinitions.get(name);
    if (known !== undefined && known.text !== text) {
      throw new StrataError('BAD_INPUT', `kv namespace "${name}" is already declared in this process with other defaults`, {
        op: 'store.kv',
        hint: 'declare each namespace once and reuse the handle, or call store.kv(name) without options',
        details: { namespace: name },
      });
    }
    this.#kvDefinitions.set(name, { text, defaults });
    if (quota !== undefined) this.#quotas.setQuota(kvSpace(name), quota);
    return this.#observed(new KvNamespace<V>(this.#context, name, defaults), 'kv', kvSpace(name));
  }

  /** The handle with its failed calls logged, when the store has a logger. */
  #observed<H extends object>(handle: H, kind: 'kv' | 'collection' | 'settings', space: string): H {
    return this.#observer === undefined ? handle : this.#observer.handle(handle, kind, space);
  }

  /**
   * The quota to limit `space` to; BAD_INPUT when it is not one, or when the space already
   * has another (two modules disagreeing on a limit would each be wrong about the other's writes).
   */
  #checkQuota(space: string, what: string, value: unknown, op: string): Quota {
    const quota = parseQuota(value, what, op);
    const known = this.#quotas.quotaOf(space);
    if (known !== undefined && !sameQuota(known, quota)) {
      throw new StrataError('BAD_INPUT', `${what} is already declared in this process with another quota`, {
        op,
        hint: 'declare the quota once (for example where the namespace is first declared) and reuse the handle',
        details: { space, quota: known },
      });
    }
    return quota;
  }

  /**
   * A settings view over the kv namespace `name`: typed values checked by a schema, defaults
   * for what was never set, and `getAll()` as one object (what conf / electron-store users expect).
   */
  settings<T extends Record<string, unknown> = Record<string, unknown>>(name: string, options?: SettingsOptions<T>): Settings<T> {
    this.#assertOpen('store.settings');
    checkName(name, 'namespace', 'store.settings');
    // A checked `set` reads, checks and writes in one transaction (see Settings#checkedWrite).
    const transaction: SettingsTransaction = (fn) => this.transaction((tx) => fn(tx.kv(name)));
    const settings = new Settings<T>(new KvNamespace<unknown>(this.#context, name), options, transaction);
    return this.#observed(settings, 'settings', kvSpace(name));
  }

  /** A collection of documents, typed by its schema. */
  collection<S extends StandardSchemaV1 | undefined = undefined, const K extends string = 'id'>(
    name: string,
    options?: CollectionOptions<S, K>,
  ): Collection<DocOf<S>, InputOf<S>, K> {
    this.#assertOpen('store.collection');
    checkName(name, 'collection', 'store.collection');
    const given = setOptions(options as AnyCollectionOptions | undefined);
    if (given?.encrypt !== undefined) {
      const space = collectionSpace(name);
      const fields = parseEncryptFields(given.encrypt, given.key ?? 'id', `collection "${name}"`);
      const spec: SpaceEncryption | undefined = fields.length === 0 ? undefined : { whole: false, fields };
      if (spec !== undefined) rewriteIndexes(given.indexes, space, spec);
      this.#declareEncryption(space, spec, fields.length > 0, 'store.collection');
    }
    const known = this.#definitions.get(name);
    const definition = given ?? known ?? this.#rememberedOptions(name);
    const collection = new Collection<DocOf<S>, InputOf<S>, K>(this.#context, name, definition);
    if (given !== undefined) {
      if (known !== undefined && this.#declared.has(name)) checkRedeclare(name, known, given);
      if (given.quota !== undefined) {
        const space = collectionSpace(name);
        this.#quotas.setQuota(space, this.#checkQuota(space, `collection "${name}"`, given.quota, 'store.collection'));
      }
      this.#declared.add(name);
    }
    this.#definitions.set(name, definition);
    const handle = this.#observed(collection, 'collection', collectionSpace(name));
    recordOwner(handle, this);
    return handle;
  }

  /** Registers how `space` is encrypted (before any read of it) or checks that it is not. */
  #declareEncryption(space: string, spec: SpaceEncryption | undefined, wanted: boolean, op: string): void {
    const known = this.#crypto?.specOf(space);
    if (!wanted) {
      if (known !== undefined) {
        throw new StrataError('BAD_INPUT', `${op}: ${space} is encrypted in this store; it cannot be declared unencrypted`, {
          op,
          hint: 'leave the encrypt option out (the remembered encryption applies), or declare the same encrypt option',
        });
      }
      return;
    }
    if (this.#crypto?.sealer == null) {
      throw new StrataError('BAD_INPUT', `${op}: encrypt needs a keyring, and this store was opened without one`, {
        op,
        hint: 'open the store with openStore({ encryption }), e.g. encryption.keys from STRATA_KEYS',
      });
    }
    this.#crypto.register(space, spec!);
  }

  /**
   * Re-encrypts (and re-signs, with integrity 'mac') every record not yet under the primary
   * key, in batches, each an atomic conditional write: safe while the app runs, and
   * resumable (a rerun after a crash skips what is done). Reports the key ids still in use;
   * those no longer used are forgotten, so the next open no longer needs them.
   */
  async rotateKeys(options: RotateOptions = {}): Promise<RotationReport> {
    this.#assertOpen('store.rotateKeys');
    checkOptions(options, ['batchSize', 'onProgress', 'protectExisting'], 'store.rotateKeys');
    if (this.#crypto?.sealer == null) {
      throw new StrataError('BAD_INPUT', 'store.rotateKeys: this store was opened without a keyring', {
        op: 'store.rotateKeys',
        hint: 'open it with openStore({ encryption: { keys } }), the new key first',
      });
    }
    try {
      return await rotateKeys(this.#crypto, this.#now, options);
    } catch (error) {
      throw withOp(error, 'store.rotateKeys', this.driver.name);
    }
  }

  /**
   * Writes every kv namespace and collection (values, versions, timestamps, expiry) and the
   * collection declarations to one portable gzip file (docs/export-format.md), streamed.
   * Encrypted values stay encrypted unless `{ decrypt: true }`. See README "Export and import".
   */
  async export(path: string, options?: ExportOptions): Promise<ExportReport> {
    this.#assertOpen('store.export');
    try {
      return await exportStore(this.#transferContext(), path, options);
    } catch (error) {
      throw withOp(error, 'store.export', this.driver.name);
    }
  }

  /**
   * Reads an export file into the store: a first pass checks the whole file (gzip, every
   * line, counts and checksums, keys and values, ciphertexts, schemas declared in this
   * process) and writes nothing; then the records are written in one atomic step. `merge`
   * (default) keeps records the file does not hold; `replace` empties them.
   */
  async import(path: string, options: ImportOptions = {}): Promise<ImportReport> {
    this.#assertOpen('store.import');
    try {
      return await importStore(this.#transferContext(), path, options, (driver, source, o) =>
        loadRecords(driver, withLoadMark(this.driver, source, 'store.import', this.#now), {
          ...o,
          now: this.#now(),
          checkValues: false,
        }),
      );
    } catch (error) {
      throw withOp(error, 'store.import', this.driver.name);
    }
  }

  #transferContext(): TransferContext {
    return {
      driver: this.driver,
      raw: bottomDriver(this.driver),
      crypto: this.#crypto,
      now: this.#now,
      schemaOf: (name) => this.#definitions.get(name)?.schema,
      declaredSpec: (name) => (this.#declared.has(name) ? specOf(this.#definitions.get(name)!) : null),
      refresh: async (names) => {
        await this.#crypto?.load(this.#now());
        for (const name of names) if (!this.#declared.has(name)) await this.describe(name);
      },
    };
  }

  #rememberedOptions(name: string): AnyCollectionOptions {
    const spec = this.#remembered.get(name);
    if (spec instanceof StrataError) throw spec;
    return spec === undefined ? {} : optionsOf(spec);
  }

  /**
   * How collection `name` is declared: in this process when it was declared here with
   * options, else as remembered in the store (read now, so declarations made by other
   * processes since this one opened are seen). `null` when it was never declared.
   */
  async describe(name: string): Promise<CollectionSpec | null> {
    this.#assertOpen('store.describe');
    try {
      checkName(name, 'collection');
      if (this.#declared.has(name)) return specOf(this.#definitions.get(name)!);
      const spec = await readSpec(this.driver, name, this.#now());
      if (spec !== null) {
        this.#remembered.set(name, spec);
        this.#definitions.set(name, optionsOf(spec));
      }
      return spec;
    } catch (error) {
      throw withOp(error, 'store.describe', this.driver.name);
    }
  }

  /**
   * Runs `fn` as one all-or-nothing unit across kv namespaces and collections. Reads see the
   * transaction's own writes; at the end every write commits in one atomic batch, guarded by
   * the versions read and by every scan made (`count`, `list`, `query`, `page`...): the
   * isolation is serializable. When a concurrent writer changed something read (or a
   * record appeared in or left a range scanned), `fn` runs again (so keep it free of outside
   * side effects); after `retries` it rejects with CONFLICT. A read-only transaction is
   * validated the same way before its result is returned, and an error thrown by `fn` after
   * reading a state that was already out of date also reruns it.
   */
  async transaction<R>(fn: (tx: TransactionScope) => Promise<R>, options: TransactionOptions = {}): Promise<R> {
    this.#assertOpen('store.transaction');
    checkOptions(options, ['retries'], 'store.transaction'); // kvstore helper: options checked (issue 7, defect 2)
    if (typeof fn !== 'function') {
      throw new StrataError('BAD_INPUT', 'store.transaction needs a function', {
        op: 'store.transaction',
        hint: 'pass an async function of the transaction scope, e.g. store.transaction(async (tx) => { ... })',
      });
    }
    // Only a left-out retries takes the default: `null` is a wrong type, refused below.
    const retries = options.retries === undefined ? 10 : options.retries;
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new StrataError('BAD_INPUT', `store.transaction: retries must be a whole number >= 0, got ${String(retries)}`, {
        op: 'store.transaction',
        hint: 'leave it out for 10 reruns, or pass e.g. { retries: 3 }',
      });
    }
    for (let attempt = 0; ; attempt++) {
      const txDriver = new TransactionDriver(this.driver);
      const ctx = this.#contextFor(txDriver, true);
      const scope: TransactionScope = {
        kv: <V>(name: string, ...extra: unknown[]) => {
          checkName(name, 'namespace', 'tx.kv');
          refuseTxOptions('kv', name, extra);
          return new KvNamespace<V>(ctx, name, this.#kvDefinitions.get(name)?.defaults);
        },
        collection: <T extends object>(name: string, ...extra: unknown[]) => {
          checkName(name, 'collection', 'tx.collection');
          refuseTxOptions('collection', name, extra);
          return new Collection<T, T, string>(ctx, name, this.#definitions.get(name) ?? {});
        },
      };
      let result: R;
      try {
        result = await fn(scope);
      } catch (error) {
        // What `fn` read may not have been one consistent state (another writer got in
        // between two reads), and that may be why it threw: rerun rather than report it.
        if (!(await this.#stale(txDriver))) throw error;
        // Out of reruns on a state that never was: the caller learns of the contention, not
        // of an error the inconsistent read may have caused.
        if (attempt >= retries) throw conflictAfter(retries, error);
        await backoff(attempt);
        continue;
      }
      try {
        await txDriver.commit(this.#now());
        return result;
      } catch (error) {
        if (!StrataError.is(error, 'CONFLICT') || attempt >= retries) throw withOp(error, 'store.transaction', this.driver.name);
        await backoff(attempt);
      }
    }
  }

  /** Whether a transaction's reads are out of date (validating them gives CONFLICT). */
  async #stale(txDriver: TransactionDriver): Promise<boolean> {
    try {
      await txDriver.validate(this.#now());
      return false;
    } catch (error) {
      return StrataError.is(error, 'CONFLICT');
    }
  }

  /**
   * A consistent online backup (writers keep writing), compressed and checksummed, with a
   * manifest; by default in `<store dir>/backups/<store file name>/`. See README "Backups and restore".
   */
  async backup(options?: BackupOptions): Promise<BackupResult> {
    this.#assertOpen('store.backup');
    try {
      return await backupStore(this, options, this.#now());
    } catch (error) {
      throw withOp(error, 'store.backup', this.driver.name);
    }
  }

  /**
   * Replaces every record (and on sqlite the user tables) with a backup's, in one atomic
   * step; a damaged or truncated backup is CORRUPT and changes nothing. With `toTime` (a
   * store with a journal): the backup (for a directory of backups, the newest at or before
   * `toTime`) plus the journal replayed up to `toTime`, in the same one step; a gap in the
   * journal is refused, never papered over (docs/journal.md). Its result then has `pointInTime`.
   */
  async restore(idOrPath: string, options?: RestoreOptions): Promise<RestoreResult & { pointInTime?: PitrPlan }> {
    // Here, not in restoreBackup: that one also takes Strata's own hooks, which a caller must not reach.
    checkOptions(options, RESTORE_OPTIONS, 'store.restore');
    return this.#restore(idOrPath, options);
  }

  /** `keepLive`: spaces whose live records the restore leaves as they are (the migrator's lease). */
  async #restore(
    idOrPath: string,
    options: RestoreOptions | undefined,
    keepLive?: readonly string[],
  ): Promise<RestoreResult & { pointInTime?: PitrPlan }> {
    this.#assertOpen('store.restore');
    try {
      const result =
        options?.toTime !== undefined
          ? await restoreToPointInTime(this, idOrPath, options, this.#now())
          : await restoreBackup(this, idOrPath, keepLive === undefined ? options : { ...options, keepLive }, this.#now());
      // Every later call fails with CLOSED rather than read ciphertext as values or seal
      // with keys of the old state (README "Backups and restore", Encryption).
      if (result.reopen && !result.dryRun) this.#restoredAway = true;
      // The store now holds the backup's remembered encryption and collection specs: spaces this
      // process declared after the backup was taken must be declared (and remembered) again
      // before their next write, or other processes would read their ciphertext as values.
      if (!result.dryRun) this.#forgetEnsured();
      return result;
    } catch (error) {
      throw withOp(error, 'store.restore', this.driver.name);
    }
  }

  /** List, verify and prune the store's backups. */
  get backups(): StoreBackups {
    const run = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
      this.#assertOpen(op);
      try {
        return await fn();
      } catch (error) {
        throw withOp(error, op, this.driver.name);
      }
    };
    return {
      list: (options) => run('store.backups.list', () => listBackups(this, options)),
      verify: (idOrPath, options) => run('store.backups.verify', () => verifyBackup(this, idOrPath, options)),
      prune: (options) => run('store.backups.prune', () => pruneBackups(this, options, this.#now())),
    };
  }

  /** Record counts and sizes per namespace and collection (live records only). */
  async stats(): Promise<StoreStats> {
    this.#assertOpen('store.stats');
    try {
      return await liveStats(this.driver, this.#now(), (space) => this.#quotas.quotaOf(space));
    } catch (error) {
      throw withOp(error, 'store.stats', this.driver.name);
    }
  }

  /** Checks the whole store for corruption; `ok: false` lists what is wrong. */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    this.#assertOpen('store.verify');
    try {
      checkOptions(options, ['onProgress'], 'store.verify');
      const onProgress = progressCallback<VerifyProgress>(options.onProgress, 'store.verify');
      const report = await this.driver.verify(onProgress === undefined ? undefined : { onProgress });
      await verifyJournal(this.driver, report, this.#now());
      // A damaged space fails its reads, so its schema cannot be checked; the others still are.
      // Damage not tied to one space (the file itself) leaves nothing that can be read safely.
      const damaged = new Set(report.issues.filter((i) => i.code === 'CORRUPT').map((i) => i.space));
      if (damaged.has(undefined)) return report;
      // Schemas are code, known only to the process that declared them: check those.
      for (const [name, options] of this.#definitions) {
        if (options.schema === undefined || damaged.has(collectionSpace(name))) continue;
        const found = await this.collection(name).verify();
        for (const bad of found.invalid) {
          const summary = bad.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
          report.issues.push({
            code: 'VALIDATION_FAILED',
            message: `document "${bad.key}" in "${name}" does not match its schema: ${summary}`,
            space: collectionSpace(name),
            key: bad.key,
          });
        }
      }
      report.ok = report.issues.length === 0;
      return report;
    } catch (error) {
      throw withOp(error, 'store.verify', this.driver.name);
    }
  }

  /**
   * Names of the kv namespaces and collections that hold live records (one emptied by
   * `clear()`, `deleteWhere({})` or `drop()`, or holding only expired records, is not listed).
   */
  async names(): Promise<{ kv: string[]; collections: string[] }> {
    this.#assertOpen('store.names');
    try {
      return await liveNames(this.driver, this.#now());
    } catch (error) {
      throw withOp(error, 'store.names', this.driver.name);
    }
  }

  /**
   * Prometheus text exposition of this store (its own registry, never prom-client's global
   * one): with `metrics` on, operation counts, latency histograms, errors by code and writes
   * per space; always, the records, bytes and storage gauges read now. See docs/observability.md.
   */
  async metrics(): Promise<string> {
    this.#assertOpen('store.metrics');
    try {
      const now = this.#now();
      return await (this.#observer === undefined ? gaugesText(this.driver, now) : this.#observer.metrics(this.driver, now));
    } catch (error) {
      throw withOp(error, 'store.metrics', this.driver.name);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Releases every handle, timer and connection, so the process can exit. Idempotent.
   * Stops every schedule: a run in progress has its `signal` aborted (its store calls now fail
   * with CLOSED) and close() waits for it to settle and for its outcome to be recorded.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    // Schedules first: runs in progress are aborted and recorded before the driver goes.
    const settled = Promise.all([this.#scheduler.close(), this.#sweeper.stop()]).catch(() => {});
    this.#closing = settled.then(() => this.driver.close()).finally(() => this.#observer?.closed(this.driver.name));
    return this.#closing;
  }
}

/** Randomised, growing pause before a transaction's rerun, so racing processes spread out. */
function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * 2 ** attempt)));
}
const KV_OPTIONS = ['encrypt', 'defaults', 'quota'] as const;

const KNOWN_OPTIONS = new Set([
  'url',
  'driver',
  'appName',
  'env',
  'durability',
  'sweepInterval',
  'clock',
  'encryption',
  'quota',
  'logger',
  'metrics',
  'journal',
]);
/** Options of the design that this version does not implement yet: refused, never ignored. */
const NOT_YET = new Set(['cache', 'blobs', 'archive']);

function checkOptionNames(opts: object): void {
  for (const name of Object.keys(opts)) {
    if (KNOWN_OPTIONS.has(name)) continue;
    if (NOT_YET.has(name)) {
      throw new StrataError('UNSUPPORTED', `openStore: the "${name}" option is not available in this version of Strata`, {
        op: 'openStore',
        hint: 'remove it; data would otherwise be stored without what it promises',
      });
    }
    throw new StrataError('BAD_INPUT', `openStore: unknown option "${name}"`, {
      op: 'openStore',
      hint: `known options: ${[...KNOWN_OPTIONS].join(', ')}`,
    });
  }
}

/**
 * Opens a store. With no argument: the embedded SQLite file `./.strata/strata.db`.
 * A string is a URL (`sqlite:app.db`, `file:data`, `memory:`).
 */
export async function openStore(options: string | OpenStoreOptions = {}): Promise<Store> {
  try {
    return await open(options);
  } catch (error) {
    // Every refusal names the call, including those of the shared parsers (durations, URLs,
    // names) that do not know who called them. Anything else is passed on as it was.
    throw error instanceof StrataError ? withOp(error, 'openStore') : error;
  }
}

async function open(options: string | OpenStoreOptions): Promise<Store> {
  const opts: OpenStoreOptions = typeof options === 'string' ? { url: options } : options;
  if (opts === null || typeof opts !== 'object') {
    throw new StrataError('BAD_INPUT', 'openStore takes a URL string or an options object', {
      hint: 'pass a store URL string or an options object such as { url }; leave it out for the default store',
    });
  }
  checkOptionNames(opts);
  // Checked first: the clock is called below, before the store exists to report anything.
  if (opts.clock !== undefined && typeof opts.clock !== 'function') {
    throw new StrataError('BAD_INPUT', 'openStore: clock must be a function returning epoch milliseconds', {
      hint: 'pass clock: Date.now (or any function returning epoch milliseconds), or leave it out',
    });
  }
  // Only a left-out option takes its default (README: a wrong type is BAD_INPUT): `null` is
  // refused here and below rather than read as "the default".
  const durability: unknown = opts.durability === undefined ? 'full' : opts.durability;
  if (durability !== 'full' && durability !== 'normal') {
    throw new StrataError('BAD_INPUT', `durability must be 'full' or 'normal', got ${JSON.stringify(durability)}`, {
      hint: "pass durability: 'full' or 'normal', or leave it out for 'full'",
    });
  }
  if (opts.driver !== undefined && (opts.driver === null || typeof opts.driver !== 'object')) {
    throw new StrataError('BAD_INPUT', 'openStore: driver must be a driver object', {
      hint: 'pass the object a driver factory returns (stratadb/drivers/sqlite, /file or /memory), or leave it out and pass url',
    });
  }
  const encryption = parseEncryption(opts.encryption);
  const quota = opts.quota === undefined ? undefined : parseQuota(opts.quota, 'openStore', 'openStore');
  const journal = opts.journal === undefined ? undefined : parseJournalOptions(opts.journal);
  const sweepMs =
    opts.sweepInterval === false
      ? false
      : parseDuration(opts.sweepInterval === undefined ? '1m' : opts.sweepInterval, 'sweepInterval', MAX_TIMER_MS);
  // A clock of the caller's is checked on every call: a NaN or a string would be stored as
  // a timestamp (each driver failing differently), and its throw is the caller's mistake.
  const userClock = opts.clock as (() => unknown) | undefined;
  const clock = userClock === undefined ? Date.now : () => checkedTime(readClock(userClock), MAX_TIME_MS);
  const observer = Observer.from(opts.logger, opts.metrics, clock());
  let driver = opts.driver;
  if (driver === undefined) {
    let url = opts.url;
    if (url === undefined && opts.appName !== undefined) {
      // Escaped so a `%`, `?` or `#` in the data directory stays part of the path.
      const env = opts.env === undefined ? (process.env.NODE_ENV ?? 'development') : opts.env;
      url = `sqlite:${encodeURIComponent(join(appDataDir(opts.appName, env), 'strata.db'))}`;
    }
    // `url: null` is refused by driverFromUrl (a wrong type), not taken as the default store.
    driver = await driverFromUrl(url === undefined ? DEFAULT_URL : url, durability);
    // Drivers may open lazily; one cheap call here makes CORRUPT or LOCKED surface at open.
    try {
      await driver.spaces();
    } catch (error) {
      await driver.close().catch(() => {});
      throw withOp(error, 'openStore', driver.name);
    }
  }
  try {
    driver = await withJournal(driver, journal, clock());
    driver = await withEncryption(driver, encryption, clock());
  } catch (error) {
    await driver.close().catch(() => {});
    throw withOp(error, 'openStore', driver.name);
  }
  const storeOptions: { clock?: () => number; sweepMs: number | false; quota?: Quota; observer?: Observer } = { sweepMs };
  if (userClock !== undefined) storeOptions.clock = clock;
  if (quota !== undefined) storeOptions.quota = quota;
  if (observer !== undefined) storeOptions.observer = observer;
  const store = new Store(driver, storeOptions);
  try {
    await store.load();
  } catch (error) {
    await store.close().catch(() => {});
    throw withOp(error, 'openStore', driver.name);
  }
  observer?.opened(driver.name, opts.url);
  return observer?.store(store) ?? store;
}

/**
 * Puts the encryption layer on top of the stack when the store has a keyring, or holds
 * encrypted data (then without one: its encrypted spaces are DECRYPT_FAILED, never ciphertext
 * handed out as values). A store whose records carry MACs cannot be opened without its keys.
 */
async function withEncryption(driver: Driver, encryption: ReturnType<typeof parseEncryption>, now: number): Promise<Driver> {
  let layer: EncryptionLayer;
  if (driver.capabilities.encryption === true) {
    if (encryption !== undefined) {
      throw new StrataError('BAD_INPUT', 'openStore: this driver stack already has its encryption layer', {
        op: 'openStore',
        hint: "leave the encryption option out when passing a store's own driver",
      });
    }
    return driver;
  }
  if (encryption !== undefined) {
    const opened = await openCrypto(driver, encryption, now);
    const ids = [...new Set([opened.sealer.primary, ...Object.keys(opened.state.keys)])].filter((id) => opened.sealer.hasKey(id));
    layer = new EncryptionLayer(driver, opened.sealer, ids, opened.state.integrity === 'mac');
  } else {
    const state = await readCryptoState(driver, now);
    if (state === null) {
      await checkNoCryptoTraces(driver, now);
      return driver;
    }
    if (state.state.integrity === 'mac') {
      throw new StrataError('BAD_INPUT', "this store signs every record (integrity 'mac') and was opened without its keys", {
        op: 'openStore',
        hint: 'open it with openStore({ encryption: { keys } }) (the CLI reads STRATA_KEYS)',
      });
    }
    layer = new EncryptionLayer(driver, null, [], false);
  }
  await layer.load(now);
  return layer;
}

/** The encryption layer in a stack (a store's own driver handed to openStore keeps it under its quota layer). */
function encryptionLayerOf(driver: Driver): EncryptionLayer | undefined {
  let at: Driver = driver;
  while (!(at instanceof EncryptionLayer) && at.capabilities.encryption === true && 'inner' in at)
    at = (at as { inner: Driver }).inner;
  return at instanceof EncryptionLayer ? at : undefined;
}

/** The CONFLICT of a transaction that ran out of reruns, its function having thrown on an out-of-date read. */
function conflictAfter(retries: number, cause: unknown): StrataError {
  return new StrataError('CONFLICT', `store.transaction: other writers kept changing what it read (${retries + 1} runs)`, {
    op: 'store.transaction',
    cause,
    hint: 'retry later, or raise { retries }; the last run threw on a state that was already out of date (see cause)',
  });
}
