// Login sessions: the client holds a random token; the store holds only its SHA-256, so a
// dump or backup of the store lets nobody log in.
//
// Layout in the kv namespace (one namespace, so a session and its index entry are written and
// deleted in one atomic batch):
//   s:<sha256(token)>                    the session record
//   u:<sha256(userId)>:<sha256(token)>   `true`: lists a user's sessions by key prefix
import { StrataError, type Duration, type KvNamespace, type Store } from '../../index.js';
import {
  booleanOption,
  checkIdentifier,
  checkKnown,
  checkStore,
  clockOption,
  durationOption,
  intOption,
  namespaceOption,
} from './config.js';
import { lookupKey, randomToken } from './secrets.js';

export interface SessionOptions {
  /** How long a session lives; with `sliding`, how long it lives after its last renewal. @default '7d' */
  ttl?: Duration;
  /** Renew the expiry to `now + ttl` on every `get`, never past `maxAge` after creation. @default false */
  sliding?: boolean;
  /** With `sliding`: the absolute cap, counted from creation; at least `ttl`. @default '30d' */
  maxAge?: Duration;
  /** Random bytes in a session token, 16 to 64 (32 bytes: a 43-character base64url token). @default 32 */
  tokenBytes?: number;
  /** The kv namespace sessions are kept in. @default 'auth.sessions' */
  namespace?: string;
  /** Epoch ms for every expiry decision. @default Date.now */
  clock?: () => number;
}

export interface Session<D = unknown> {
  /** SHA-256 of the token (base64url): safe to log or show, cannot be used to log in. */
  id: string;
  userId: string;
  data: D | null;
  createdAt: Date;
  expiresAt: Date;
  /** With sliding renewal, the cap no renewal passes; `null` without. */
  maxExpiresAt: Date | null;
}

export interface CreateSessionOptions<D> {
  /** Any JSON value kept with the session (roles, the login method...). Stored in plain text. */
  data?: D;
}

interface StoredSession {
  userId: string;
  data: unknown;
  createdAt: number;
  expiresAt: number;
  maxExpiresAt: number | null;
}

const OPTIONS = ['ttl', 'sliding', 'maxAge', 'tokenBytes', 'namespace', 'clock'] as const;
const PAGE = 500;

/** Sessions over a kv namespace of an open store. */
export class SessionStore<D = unknown> {
  readonly #store: Store;
  readonly #kv: KvNamespace<unknown>;
  readonly #namespace: string;
  readonly #ttl: number;
  readonly #sliding: boolean;
  readonly #maxAge: number | null;
  readonly #tokenBytes: number;
  readonly #now: () => number;

  constructor(store: Store, options: SessionOptions = {}) {
    const op = 'SessionStore';
    this.#store = checkStore(store, op);
    checkKnown(options, OPTIONS, op);
    this.#ttl = durationOption(options.ttl, '7d', 'ttl', op);
    this.#sliding = booleanOption(options.sliding, false, 'sliding', op);
    if (!this.#sliding && options.maxAge !== undefined) {
      throw new StrataError('BAD_INPUT', `${op}: maxAge caps sliding renewal and needs sliding: true`, {
        op,
        hint: 'pass sliding: true as well, or leave the cap out and set ttl alone for sessions that are never renewed',
      });
    }
    this.#maxAge = this.#sliding ? durationOption(options.maxAge, '30d', 'maxAge', op) : null;
    if (this.#maxAge !== null && this.#maxAge < this.#ttl) {
      throw new StrataError('BAD_INPUT', `${op}: maxAge must be at least ttl`, { op, hint: 'raise the cap or lower ttl' });
    }
    this.#tokenBytes = intOption(options.tokenBytes, 32, 'tokenBytes', op, 16, 64);
    this.#now = clockOption(options.clock, op);
    this.#namespace = namespaceOption(options.namespace, 'auth.sessions', op);
    this.#kv = this.#store.kv(this.#namespace);
  }

  /**
   * Starts a session for `userId`. Returns the token to hand to the client (a cookie, say):
   * it is not stored anywhere and cannot be read back.
   */
  async create(userId: string, options: CreateSessionOptions<D> = {}): Promise<{ token: string; session: Session<D> }> {
    const op = 'sessions.create';
    checkIdentifier(userId, 'userId', op);
    checkKnown(options, ['data'], op);
    const token = randomToken(this.#tokenBytes);
    const id = lookupKey(token);
    const now = this.#now();
    const record: StoredSession = {
      userId,
      data: options.data ?? null,
      createdAt: now,
      expiresAt: now + this.#ttl,
      maxExpiresAt: this.#maxAge === null ? null : now + this.#maxAge,
    };
    await this.#kv.setMany(
      [
        [`s:${id}`, record],
        [this.#indexKey(userId, id), true],
      ],
      { ttl: this.#ttl },
    );
    return { token, session: view(id, record) };
  }

  /**
   * The session a token belongs to, or `null` when it is unknown, destroyed or expired.
   * With `sliding`, a hit also renews it (one atomic write; concurrent renewals are harmless).
   */
  async get(token: string): Promise<Session<D> | null> {
    checkToken(token, 'sessions.get');
    const id = lookupKey(token);
    const record = await this.#read(id);
    if (record === null) return null;
    const now = this.#now();
    if (now >= record.expiresAt) {
      await this.#kv.deleteMany([`s:${id}`, this.#indexKey(record.userId, id)]);
      return null;
    }
    // Renewal follows this store's setting; a session made without a cap is never renewed.
    if (!this.#sliding || record.maxExpiresAt === null) return view(id, record);
    const next = Math.min(now + this.#ttl, record.maxExpiresAt);
    if (next <= record.expiresAt) return view(id, record);
    return this.#renew(id, next);
  }

  async #renew(id: string, expiresAt: number): Promise<Session<D> | null> {
    try {
      return await this.#store.transaction(
        async (tx) => {
          const kv = tx.kv<unknown>(this.#namespace);
          const record = parseSession(await kv.get(`s:${id}`));
          const now = this.#now();
          if (record === null || now >= record.expiresAt) return null;
          // Another renewal landed first, from a later clock: never move the expiry back.
          if (record.expiresAt >= expiresAt) return view<D>(id, record);
          const renewed = { ...record, expiresAt };
          // The store's TTL follows the renewal, so a renewed session is not swept early.
          const ttl = Math.max(1, expiresAt - now);
          await kv.set(`s:${id}`, renewed, { ttl });
          await kv.set(this.#indexKey(record.userId, id), true, { ttl });
          return view<D>(id, renewed);
        },
        { retries: 3 },
      );
    } catch (error) {
      if (!StrataError.is(error, 'CONFLICT')) throw error;
      // Other requests renewed (or destroyed) it meanwhile: their write stands.
      const record = await this.#read(id);
      return record === null || this.#now() >= record.expiresAt ? null : view(id, record);
    }
  }

  /** Ends the session of `token` (logout); `true` when it existed. */
  async destroy(token: string): Promise<boolean> {
    checkToken(token, 'sessions.destroy');
    return this.#destroyId(lookupKey(token));
  }

  /** Ends a session by its `id` (from `list`, e.g. "log out that device"); `true` when it existed. */
  async destroyById(id: string): Promise<boolean> {
    checkIdentifier(id, 'id', 'sessions.destroyById', 128);
    return this.#destroyId(id);
  }

  /**
   * Deletes the session `id` and its index entry; `true` when it was live by the kit's clock
   * (one past its expiry is gone for `get` and `list` already, whatever the store's clock says).
   */
  async #destroyId(id: string): Promise<boolean> {
    // The clock first: a clock that fails (BAD_INPUT) must not have deleted anything.
    const now = this.#now();
    const record = await this.#read(id);
    if (record === null) return false;
    const removed = (await this.#kv.deleteMany([`s:${id}`, this.#indexKey(record.userId, id)])) > 0;
    return removed && now < record.expiresAt;
  }

  /**
   * Ends every session of `userId` (password change, "log out everywhere"); returns how many
   * live sessions it removed. One past its expiry by the kit's clock is gone for every read
   * already: its records are deleted too, but it is not counted. A session created while it
   * runs may survive.
   */
  async destroyAll(userId: string): Promise<number> {
    const op = 'sessions.destroyAll';
    checkIdentifier(userId, 'userId', op);
    const now = this.#now();
    const prefix = this.#indexKey(userId, '');
    let removed = 0;
    for (;;) {
      const keys = await this.#kv.list({ prefix, limit: PAGE });
      if (keys.length === 0) return removed;
      const ids = keys.map((k) => k.slice(prefix.length));
      const values = await this.#kv.getMany(ids.map((id) => `s:${id}`));
      const live: string[] = [];
      const expired: string[] = [];
      values.forEach((value, i) => {
        const record = parseSession(value);
        // A record of another user (only foreign data could put it there) is left alone.
        if (record === null || record.userId !== userId) return;
        (now < record.expiresAt ? live : expired).push(`s:${ids[i]!}`);
      });
      // Counted by what this call deleted: a session a concurrent destroy took is not counted twice.
      if (live.length > 0) removed += await this.#kv.deleteMany(live);
      await this.#kv.deleteMany([...expired, ...keys]);
    }
  }

  /** The live sessions of `userId`, oldest first. */
  async list(userId: string): Promise<Array<Session<D>>> {
    checkIdentifier(userId, 'userId', 'sessions.list');
    const prefix = this.#indexKey(userId, '');
    const now = this.#now();
    const sessions: Array<Session<D>> = [];
    let after: string | undefined;
    for (;;) {
      const keys = await this.#kv.list(after === undefined ? { prefix, limit: PAGE } : { prefix, limit: PAGE, after });
      const ids = keys.map((k) => k.slice(prefix.length));
      const values = await this.#kv.getMany(ids.map((id) => `s:${id}`));
      values.forEach((value, i) => {
        const record = parseSession(value);
        if (record !== null && record.userId === userId && now < record.expiresAt) sessions.push(view(ids[i]!, record));
      });
      if (keys.length < PAGE) break;
      after = keys[keys.length - 1];
    }
    return sessions.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async #read(id: string): Promise<StoredSession | null> {
    return parseSession(await this.#kv.get(`s:${id}`));
  }

  #indexKey(userId: string, id: string): string {
    return `u:${lookupKey(userId)}:${id}`;
  }
}

function checkToken(token: unknown, op: string): asserts token is string {
  if (typeof token !== 'string') {
    throw new StrataError('BAD_INPUT', `${op}: the session token must be a string`, {
      op,
      hint: 'pass the token that creating the session returned; check for a missing cookie before calling',
    });
  }
}

function view<D>(id: string, record: StoredSession): Session<D> {
  return {
    id,
    userId: record.userId,
    data: record.data as D | null,
    createdAt: new Date(record.createdAt),
    expiresAt: new Date(record.expiresAt),
    maxExpiresAt: record.maxExpiresAt === null ? null : new Date(record.maxExpiresAt),
  };
}

/** A stored session record, or `null` for none; anything else in its place is CORRUPT. */
function parseSession(value: unknown): StoredSession | null {
  if (value === null) return null;
  const r = value as Partial<StoredSession> | undefined;
  if (
    typeof r === 'object' &&
    typeof r.userId === 'string' &&
    typeof r.createdAt === 'number' &&
    typeof r.expiresAt === 'number' &&
    (r.maxExpiresAt === null || typeof r.maxExpiresAt === 'number') &&
    'data' in r
  ) {
    return r as StoredSession;
  }
  throw new StrataError('CORRUPT', 'a session record in the store is not one the auth kit wrote', {
    hint: 'the session namespace holds foreign data; give the kit its own namespace (its namespace option)',
  });
}
