// OAuth access and refresh tokens (what seed 000's `persistAccessToken` / `persistRefreshToken`
// kept in a plain JSON file), in a kv namespace encrypted at rest with the store's keyring.
//
// Keys are `access:` / `refresh:` + SHA-256 of [provider, account], so account names (often
// emails) are not readable from the store's keys either.
import { StrataError, type Duration, type KvNamespace, type Store } from '../../index.js';
import { checkIdentifier, checkKnown, clockOption, durationOption, namespaceOption } from './config.js';
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
    checkKnown(options, OPTIONS, op);
    this.#now = clockOption(options.clock, op);
    this.#kv = store.kv(namespaceOption(options.namespace, 'auth.tokens', op), { encrypt: true });
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

  /** Forgets both tokens of `owner` (logout, revoked grant); returns how many there were. */
  async clear(owner?: TokenOwner): Promise<number> {
    const op = 'tokens.clear';
    checkKnown(owner, OWNER, op);
    return this.#kv.deleteMany([this.#key('access', owner, op), this.#key('refresh', owner, op)]);
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
    return record.expiresAt !== null && this.#now() >= record.expiresAt ? null : record.token;
  }

  #key(kind: Kind, owner: TokenOwner | undefined, op: string): string {
    const provider = owner?.provider === undefined ? '' : checkIdentifier(owner.provider, 'provider', op);
    const account = owner?.account === undefined ? '' : checkIdentifier(owner.account, 'account', op);
    return `${kind}:${lookupKey(JSON.stringify([provider, account]))}`;
  }
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
