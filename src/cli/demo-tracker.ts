// The deploy tracker of seed 000 (a bot that keeps OAuth tokens, app data and deployment
// records, and prunes duplicate records from a cron job), rebuilt on Strata's public API only:
// `../index.js` is what `stratadb` exports and `../kits/auth/index.js` is `stratadb/kits/auth`,
// so an app can copy this file and change just those two imports. It lives under src/ because
// `strata demo` runs it from the built package; examples/deploy-tracker/ shows and tests it.
import {
  openStore,
  StrataError,
  type Collection,
  type Duration,
  type Filter,
  type KeyringInput,
  type QueryOptions,
  type ScheduledJob,
  type Store,
} from '../index.js';
import { TokenStore } from '../kits/auth/index.js';
import { readIsoTime } from '../codec/iso-time.js';

/** A deployment as the seed's DEPLOYMENT_RECORDS has it, plus when it was recorded. */
export interface DeploymentRecord {
  /** The deployment's id: every status change of one deployment is a record with the same id. */
  id: string;
  repoName: string;
  branch: string;
  /** e.g. pending, running, success, failed. */
  status: string;
  /** ISO time; filled from the tracker's clock when left out. */
  createdAt: string;
}

/** A stored deployment record: `recordId` is its storage key (a ULID unless given). */
export type StoredDeployment = DeploymentRecord & { recordId: string };

/** What `recordDeployment` takes: `createdAt` may be a Date or left out, `recordId` is optional. */
export type DeploymentInput = Omit<DeploymentRecord, 'createdAt'> & { createdAt?: string | Date; recordId?: string };

export interface TrackerOptions {
  /** Epoch ms for token expiry and `createdAt`. @default Date.now */
  clock?: () => number;
}

export interface CreateTrackerOptions extends TrackerOptions {
  /** The store. @default 'file:.strata/deploy-tracker' (JSON files, as the original app kept) */
  url?: string;
  /** The keyring tokens are encrypted with, in any form `openStore({ encryption: { keys } })` takes. @default process.env.STRATA_KEYS */
  keys?: KeyringInput;
  /** Or a file holding the keyring's string form (mode 0600). */
  keyFile?: string;
  /** When the duplicate prune runs (cron, 5 or 6 fields); `false`: never. @default '0 3 * * *' */
  cron?: string | false;
}

/** Where the tracker keeps things, so the CLI and other processes can find them. */
export const TRACKER_SPACES = {
  /** kv namespace of `setData` / `getData` (plain JSON). */
  data: 'app',
  /** kv namespace of the tokens, encrypted (the auth kit's TokenStore). */
  tokens: 'auth.tokens',
  /** collection of the deployment records. */
  deployments: 'deployments',
} as const;

export const DEFAULT_TRACKER_URL = 'file:.strata/deploy-tracker';
export const DEFAULT_PRUNE_CRON = '0 3 * * *';
/** The name of the scheduled prune in `store.stats().schedules`. */
export const PRUNE_JOB = 'prune-dupes';

const DEPLOYMENT_OPTIONS = { key: 'recordId', indexes: ['status', 'repoName', 'createdAt'] } as const;
const TOKEN_KEYS: Record<string, 'access' | 'refresh'> = { accessToken: 'access', refreshToken: 'refresh' };
const CREATE_OPTIONS = ['url', 'keys', 'keyFile', 'cron', 'clock'];
const DEPLOYMENT_FIELDS = ['id', 'repoName', 'branch', 'status'] as const;
const FIELD_LIST = DEPLOYMENT_FIELDS.join(', ');

/**
 * The seed's persistence module on an open store. Tokens go to an encrypted namespace (the
 * store needs a keyring); `getData` / `setData` of `accessToken` / `refreshToken` go there too,
 * so no code path writes a token in plain text.
 */
export class DeployTracker {
  readonly store: Store;
  /** The deployment records, keyed by `recordId` (one record per status change). */
  readonly deployments: Collection<StoredDeployment, StoredDeployment, 'recordId'>;
  /** The scheduled prune, when the tracker was made with a cron expression. */
  pruneJob: ScheduledJob | null = null;
  readonly #tokens: TokenStore;
  readonly #now: () => number;

  constructor(store: Store, options: TrackerOptions = {}) {
    known(options, ['clock'], 'DeployTracker');
    checkClock(options.clock, 'DeployTracker');
    this.store = store;
    this.#now = options.clock ?? Date.now;
    this.#tokens = new TokenStore(store, {
      namespace: TRACKER_SPACES.tokens,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.deployments = store.collection(TRACKER_SPACES.deployments, DEPLOYMENT_OPTIONS) as unknown as Collection<
      StoredDeployment,
      StoredDeployment,
      'recordId'
    >;
  }

  /** The OAuth access token from the auth callback; `ttl` (e.g. `expires_in * 1000`) makes it read as null after it. */
  persistAccessToken(accessToken: string, options: { ttl?: Duration } = {}): Promise<void> {
    return this.#tokens.persistAccessToken(accessToken, options);
  }

  persistRefreshToken(refreshToken: string, options: { ttl?: Duration } = {}): Promise<void> {
    return this.#tokens.persistRefreshToken(refreshToken, options);
  }

  /** The value stored under `key`, or `null` when there is none. `accessToken` / `refreshToken` read the encrypted tokens. */
  async getData<T = unknown>(key: string): Promise<T | null> {
    const token = tokenOf(checkKey(key, 'getData'));
    if (token === 'access') return (await this.#tokens.getAccessToken()) as T | null;
    if (token === 'refresh') return (await this.#tokens.getRefreshToken()) as T | null;
    return (await this.store.kv(TRACKER_SPACES.data).get(key)) as T | null;
  }

  /** Stores a JSON value under `key` (atomically, durably). `accessToken` / `refreshToken` are stored encrypted. */
  async setData(key: string, value: unknown): Promise<void> {
    const token = tokenOf(checkKey(key, 'setData'));
    if (token !== undefined) {
      if (typeof value !== 'string') {
        throw new StrataError('BAD_INPUT', `setData: "${key}" holds a token, which must be a string (it is stored encrypted)`, {
          details: { key },
        });
      }
      return token === 'access' ? this.persistAccessToken(value) : this.persistRefreshToken(value);
    }
    await this.store.kv(TRACKER_SPACES.data).set(key, value);
  }

  /** Records one status of a deployment; returns it as stored. */
  async recordDeployment(record: DeploymentInput): Promise<StoredDeployment> {
    return this.deployments.insert(this.#deployment(record, 'recordDeployment'));
  }

  /** Records many in one atomic batch: all are stored or none. */
  async recordDeployments(records: readonly DeploymentInput[]): Promise<StoredDeployment[]> {
    if (!Array.isArray(records)) throw new StrataError('BAD_INPUT', 'recordDeployments: pass an array of records');
    return this.deployments.insertMany(records.map((r) => this.#deployment(r, 'recordDeployments')));
  }

  /** Deployment records matching `filter` (e.g. `{ repoName, status }`), newest first unless `options.sort` says otherwise. */
  listDeployments(filter: Filter = {}, options: QueryOptions = {}): Promise<StoredDeployment[]> {
    return this.deployments.query(filter, { sort: { createdAt: -1 }, ...options });
  }

  /**
   * Removes duplicates under `key`, keeping the newest (greatest `createdAt`, else the last
   * written) of each `idKey` value: in the collection `key` (the deployment records are
   * `'deployments'`) and in a list stored with `setData(key, [...])`. Items without `idKey`
   * stay. Returns how many were removed.
   */
  async pruneDupes(key: string, idKey = 'id'): Promise<number> {
    checkKey(key, 'pruneDupes');
    checkKey(idKey, 'pruneDupes', 'idKey');
    let removed = 0;
    const collections = (await this.store.names()).collections;
    if (key === TRACKER_SPACES.deployments || collections.includes(key)) {
      const docs = key === TRACKER_SPACES.deployments ? this.deployments : this.store.collection(key);
      removed += await docs.dedupe({ by: idKey, keep: { newest: 'createdAt' } });
    }
    const data = this.store.kv(TRACKER_SPACES.data);
    if (Array.isArray(await data.get(key))) {
      let fromList = 0;
      // update() reruns the function when another writer got there first: count the last run only.
      await data.update(key, (current) => {
        if (!Array.isArray(current)) return current;
        const kept = newestOfEach(current, idKey);
        fromList = current.length - kept.length;
        return kept;
      });
      removed += fromList;
    }
    return removed;
  }

  /** Closes the store: stops the scheduled prune (waiting for a run in progress) and releases the files. */
  close(): Promise<void> {
    return this.store.close();
  }

  #deployment(record: DeploymentInput, op: string): StoredDeployment {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new StrataError('BAD_INPUT', `${op}: a deployment record must be an object with string fields ${FIELD_LIST}`);
    }
    for (const field of DEPLOYMENT_FIELDS) {
      if (typeof record[field] !== 'string' || record[field].length === 0) {
        throw new StrataError('BAD_INPUT', `${op}: ${field} must be a non-empty string (a record needs ${FIELD_LIST})`, {
          details: { field },
        });
      }
    }
    const at: unknown = record.createdAt ?? new Date(this.#now());
    const createdAt = at instanceof Date ? at : typeof at === 'string' ? instantOf(at) : new Date(Number.NaN);
    // Years 0000-9999 only, as for strings: later ones are stored as '+010000-...', which
    // would sort before every other date and make the newest record look the oldest.
    const year = createdAt.getUTCFullYear();
    if (Number.isNaN(createdAt.getTime()) || year < 0 || year > 9999) {
      throw new StrataError(
        'BAD_INPUT',
        `${op}: createdAt must be a Date or an ISO 8601 date-time with a time zone, like 2026-06-01T10:00:00Z`,
        { hint: "pass a Date, or a string like '2026-06-01T10:00:00Z'", details: { field: 'createdAt' } },
      );
    }
    return { ...record, createdAt: createdAt.toISOString() } as StoredDeployment;
  }
}

/**
 * Opens the tracker's store (JSON files by default) with the keyring its tokens are encrypted
 * with, and schedules the duplicate prune. `close()` closes the store.
 */
export async function createTracker(options: CreateTrackerOptions = {}): Promise<DeployTracker> {
  known(options, CREATE_OPTIONS, 'createTracker');
  checkClock(options.clock, 'createTracker');
  const keys = options.keys ?? (process.env.STRATA_KEYS || undefined);
  if (keys === undefined && options.keyFile === undefined) {
    throw new StrataError('BAD_INPUT', 'createTracker: the tokens are stored encrypted, so the tracker needs a keyring', {
      hint: 'pass keys ("k1:<base64 of 32 random bytes>") or keyFile, or set STRATA_KEYS',
    });
  }
  const store = await openStore({
    url: options.url ?? DEFAULT_TRACKER_URL,
    encryption: options.keyFile !== undefined && options.keys === undefined ? { keyFile: options.keyFile } : { keys },
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  try {
    const tracker = new DeployTracker(store, options.clock === undefined ? {} : { clock: options.clock });
    const cron = options.cron ?? DEFAULT_PRUNE_CRON;
    if (cron !== false) {
      tracker.pruneJob = store.schedule(cron, PRUNE_JOB, () => tracker.pruneDupes(TRACKER_SPACES.deployments));
    }
    return tracker;
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Of the items with an `idKey`, the newest of each value (by `createdAt`, then position); the rest stay. Order is kept. */
function newestOfEach(items: unknown[], idKey: string): unknown[] {
  const winner = new Map<string, number>();
  const idOf = (item: unknown): string | null => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return null;
    const id = (item as Record<string, unknown>)[idKey];
    return typeof id === 'string' || typeof id === 'number' ? `${typeof id}:${id}` : null;
  };
  // The instant, not the text: '09:00:00Z' and '09:00:00.500Z', or '+02:00' and 'Z', do not
  // order as strings do. A list written by other code may hold epoch ms (`Date.now()`), the
  // usual JSON timestamp, so a number is an instant too. Anything else counts as oldest.
  const timeOf = (item: unknown): number => {
    const at = (item as Record<string, unknown>).createdAt;
    const ms = typeof at === 'string' ? instantOf(at).getTime() : typeof at === 'number' ? new Date(at).getTime() : Number.NaN;
    return Number.isNaN(ms) ? -Infinity : ms;
  };
  items.forEach((item, index) => {
    const id = idOf(item);
    if (id === null) return;
    const best = winner.get(id);
    if (best === undefined || timeOf(item) >= timeOf(items[best])) winner.set(id, index);
  });
  return items.filter((item, index) => {
    const id = idOf(item);
    return id === null || winner.get(id) === index;
  });
}

// Own keys only: `TOKEN_KEYS['constructor']` is Object, and setData('constructor', 'x')
// stored 'x' as the refresh token.
function tokenOf(key: string): 'access' | 'refresh' | undefined {
  return Object.hasOwn(TOKEN_KEYS, key) ? TOKEN_KEYS[key] : undefined;
}

// An instant with its zone: `new Date('May 5')` is 2001, and a time without a zone is read
// in the machine's local time, so pruneDupes' "newest" would depend on where it ran.
function instantOf(iso: string): Date {
  const read = readIsoTime(iso);
  // With the 'T', Date.parse reads the years 0000-0099 as written (not as 19xx).
  const instant = typeof read !== 'string' && read.hasTime && read.zoned && iso[10] === 'T';
  return new Date(instant ? read.ms : Number.NaN);
}

function checkKey(key: unknown, op: string, what = 'key'): string {
  if (typeof key === 'string' && key.length > 0) return key;
  throw new StrataError('BAD_INPUT', `${op}: ${what} must be a non-empty string`);
}

// Checked before openStore, which would call it: a clock that is not a function is a typo, not a TypeError later.
function checkClock(clock: unknown, op: string): void {
  if (clock !== undefined && typeof clock !== 'function') {
    throw new StrataError('BAD_INPUT', `${op}: clock must be a function returning epoch milliseconds`, {
      hint: 'pass clock: Date.now (or a fixed clock in tests), or leave it out',
      details: { option: 'clock' },
    });
  }
}

function known(options: unknown, names: readonly string[], op: string): void {
  if (options === null || typeof options !== 'object') {
    throw new StrataError('BAD_INPUT', `${op}: options must be an object`);
  }
  for (const name of Object.keys(options)) {
    if (!names.includes(name)) {
      throw new StrataError('BAD_INPUT', `${op}: unknown option "${name}"`, {
        hint: `known options: ${names.join(', ')}`,
        details: { option: name },
      });
    }
  }
}
