// OAuth access and refresh tokens (what seed 000's `persistAccessToken` / `persistRefreshToken`
// kept in a plain JSON file), in a kv namespace encrypted at rest with the store's keyring.
//
// Keys are `access:` / `refresh:` + SHA-256 of [provider, account], so account names (often
// emails) are not readable from the store's keys either.
import { StrataError, type Duration, type KvNamespace, type Store } from '../../index.js';
import { checkIdentifier, checkKnown, checkStore, clockOption, durationOption, namespaceOption } from './config.js';
import { lookupKey } from './secrets.js';

export interface TokenStoreOptions {
  /** The kv namespace tokens are kept in (opened with `{ encrypt: true }`). @default 'auth.tokens' */
  namespace?: string;
  /** Epoch ms for every expiry decision. @default Date.now */
  clock?: () => number;
}

/** Whose token: both optional, for apps with one account at one provider. */
export interface TokenOwner {
  /** e.g. `'github'`. @default '' */
  provider?: string;
  /** e.g. the user or installation id. @default '' */
  account?: string;
}

export interface PersistTokenOptions extends TokenOwner {
  /** The token's lifetime (an OAuth `expires_in` is in seconds: pass `expires_in * 1000`); the getter returns `null` after it. */
  ttl?: Duration;
}

type Kind = 'access' | 'refresh';

interface StoredToken {
  token: string;
  savedAt: number;
  expiresAt: number | null;
}

const OPTIONS = ['namespace', 'clock'] as const;
const OWNER = ['provider', 'account'] as const;
const PERSIST = ['provider', 'account', 'ttl'] as const;

/** Access and refresh tokens, encrypted at rest, per provider and account. */
export class TokenStore {
  readonly #kv: KvNamespace<unknown>;
  readonly #now: () => number;

  /** Needs a store opened with `encryption: { keys }`: without a keyring the store refuses the encrypted namespace. */
  constructor(store: Store, options: TokenStoreOptions = {}) {
    const op = 'TokenStore';
    const checked = checkStore(store, op);
    checkKnown(options, OPTIONS, op);
    this.#now = clockOption(options.clock, op);
    this.#kv = checked.kv(namespaceOption(options.namespace, 'auth.tokens', op), { encrypt: true });
  }

  persistAccessToken(token: string, options?: PersistTokenOptions): Promise<void> {
    return this.#persist('access', token, options, 'tokens.persistAccessToken');
  }

  persistRefreshToken(token: string, options?: PersistTokenOptions): Promise<void> {
    return this.#persist('refresh', token, options, 'tokens.persistRefreshToken');
  }

  /** The access token, or `null` when none was saved or its `ttl` has passed. */
  getAccessToken(owner?: TokenOwner): Promise<string | null> {
    return this.#get('access', owner, 'tokens.getAccessToken');
  }

  /** The refresh token, or `null` when none was saved or its `ttl` has passed. */
  getRefreshToken(owner?: TokenOwner): Promise<string | null> {
    return this.#get('refresh', owner, 'tokens.getRefreshToken');
  }

  /**
   * Forgets both tokens of `owner` (logout, revoked grant); returns how many there were: one
   * past its `ttl` by the kit's clock reads as `null` already, so it is deleted but not counted.
   */
  async clear(owner?: TokenOwner): Promise<number> {
    const op = 'tokens.clear';
    checkKnown(owner, OWNER, op);
    const keys = [this.#key('access', owner, op), this.#key('refresh', owner, op)];
    // The clock first: a clock that fails (BAD_INPUT) must not have deleted anything.
    const now = this.#now();
    const live: string[] = [];
    const expired: string[] = [];
    let values: unknown[];
    try {
      values = await this.#kv.getMany(keys);
    } catch (error) {
      // A damaged token cannot be read, yet forgetting it is what a caller recovering from the
      // damage needs: delete both, counting what was there.
      if (StrataError.is(error, 'DECRYPT_FAILED') || StrataError.is(error, 'CORRUPT') || StrataError.is(error, 'INTEGRITY')) {
        return this.#kv.deleteMany(keys);
      }
      throw error;
    }
    values.forEach((value, i) => {
      const record = parseToken(value);
      if (record !== null) (isLive(record, now) ? live : expired).push(keys[i]!);
    });
    if (expired.length > 0) await this.#kv.deleteMany(expired);
    // Counted by what this call deleted: a token a concurrent clear took is not counted twice.
    return live.length === 0 ? 0 : this.#kv.deleteMany(live);
  }

  async #persist(kind: Kind, token: string, options: PersistTokenOptions | undefined, op: string): Promise<void> {
    checkKnown(options, PERSIST, op);
    checkIdentifier(token, 'token', op, 65_536);
    const key = this.#key(kind, options, op);
    const now = this.#now();
    const ttl = options?.ttl === undefined ? null : durationOption(options.ttl, 1, 'ttl', op);
    const record: StoredToken = { token, savedAt: now, expiresAt: ttl === null ? null : now + ttl };
    await this.#kv.set(key, record, ttl === null ? {} : { ttl });
  }

  async #get(kind: Kind, owner: TokenOwner | undefined, op: string): Promise<string | null> {
    checkKnown(owner, OWNER, op);
    const record = parseToken(await this.#kv.get(this.#key(kind, owner, op)));
    if (record === null) return null;
    return isLive(record, this.#now()) ? record.token : null;
  }

  #key(kind: Kind, owner: TokenOwner | undefined, op: string): string {
    const provider = owner?.provider === undefined ? '' : checkIdentifier(owner.provider, 'provider', op);
    const account = owner?.account === undefined ? '' : checkIdentifier(owner.account, 'account', op);
    return `${kind}:${lookupKey(JSON.stringify([provider, account]))}`;
  }
}

/** Whether a stored token is still there for the getters at `now` (the kit's clock). */
function isLive(record: StoredToken, now: number): boolean {
  return record.expiresAt === null || now < record.expiresAt;
}

function parseToken(value: unknown): StoredToken | null {
  if (value === null) return null;
  const r = value as Partial<StoredToken> | undefined;
  if (typeof r === 'object' && typeof r.token === 'string' && (r.expiresAt === null || typeof r.expiresAt === 'number')) {
    return r as StoredToken;
  }
  throw new StrataError('CORRUPT', 'a token record in the store is not one the auth kit wrote', {
    hint: 'the token namespace holds foreign data; give the kit its own namespace (its namespace option)',
  });
}
