// OAuth `state` values (CSRF protection of the redirect), each valid once, for a short time.
//
// The store holds a state's SHA-256, never the state itself, and its payload (redirect URL,
// PKCE verifier) sealed with AES-256-GCM under a key derived from the state: a dump of the
// store can neither complete a login flow nor read a verifier.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { StrataError, type Duration, type KvNamespace, type Store } from '../../index.js';
import { checkKnown, checkStore, clockOption, durationOption, intOption, namespaceOption, sealableJson } from './config.js';
import { parseJson } from '../../codec/json.js';
import { lookupKey, randomToken } from './secrets.js';

export interface OAuthStateOptions {
  /** How long a state can be consumed after it is created. @default '10m' */
  ttl?: Duration;
  /** Random bytes in a state value, 16 to 64. @default 32 */
  stateBytes?: number;
  /** The kv namespace states are kept in. @default 'auth.oauth-state' */
  namespace?: string;
  /** Epoch ms for every expiry decision. @default Date.now */
  clock?: () => number;
}

/**
 * What `consume` found. `missing`: never issued here, already consumed, or swept after it
 * expired. `expired`: issued, but consumed too late (it is gone now too).
 */
export type OAuthStateResult<P> = { ok: true; payload: P | null } | { ok: false; reason: 'missing' | 'expired' };

interface StoredState {
  createdAt: number;
  expiresAt: number;
  /** base64url of nonce (12) | tag (16) | ciphertext of the payload's JSON; null without payload. */
  sealed: string | null;
}

const OPTIONS = ['ttl', 'stateBytes', 'namespace', 'clock'] as const;
/** Expired states stay this long before the store sweeps them, so a late consume can say `expired`. */
const GRACE_MS = 3_600_000;
const INFO = Buffer.from('stratadb/kits/auth oauth-state payload v1');

/** OAuth state values over a kv namespace of an open store. */
export class OAuthStateStore<P = unknown> {
  readonly #kv: KvNamespace<unknown>;
  readonly #ttl: number;
  readonly #stateBytes: number;
  readonly #now: () => number;

  constructor(store: Store, options: OAuthStateOptions = {}) {
    const op = 'OAuthStateStore';
    const checked = checkStore(store, op);
    checkKnown(options, OPTIONS, op);
    this.#ttl = durationOption(options.ttl, '10m', 'ttl', op);
    this.#stateBytes = intOption(options.stateBytes, 32, 'stateBytes', op, 16, 64);
    this.#now = clockOption(options.clock, op);
    this.#kv = checked.kv(namespaceOption(options.namespace, 'auth.oauth-state', op));
  }

  /** A new state value to put in the authorization URL; `payload` comes back from `consume`. */
  async create(payload?: P): Promise<string> {
    const text = payload === undefined ? null : sealableJson(payload, 'payload', 'oauthState.create');
    const state = randomToken(this.#stateBytes);
    const id = lookupKey(state);
    const now = this.#now();
    const record: StoredState = {
      createdAt: now,
      expiresAt: now + this.#ttl,
      sealed: text === null ? null : seal(state, id, text),
    };
    await this.#kv.set(`st:${id}`, record, { ttl: this.#ttl + GRACE_MS });
    return state;
  }

  /**
   * Validates and consumes `state` in one atomic step (a take): of any number of concurrent
   * calls with the same value, in any processes, exactly one can get `ok: true`.
   */
  async consume(state: string): Promise<OAuthStateResult<P>> {
    if (typeof state !== 'string') {
      throw new StrataError('BAD_INPUT', 'oauthState.consume: the state must be a string', {
        op: 'oauthState.consume',
        hint: 'pass the state query parameter of the callback; check it is present before calling',
      });
    }
    const id = lookupKey(state);
    // The clock first: a clock that fails (BAD_INPUT) must not have used the state up.
    const now = this.#now();
    const record = parseState(await this.#kv.take(`st:${id}`));
    if (record === null) return { ok: false, reason: 'missing' };
    if (now >= record.expiresAt) return { ok: false, reason: 'expired' };
    return { ok: true, payload: record.sealed === null ? null : (parseJson(open(state, id, record.sealed)) as P) };
  }
}

function keyFor(state: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(state, 'utf8'), Buffer.alloc(0), INFO, 32));
}

function seal(state: string, id: string, text: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(state), nonce);
  cipher.setAAD(Buffer.from(id, 'utf8'));
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url');
}

function open(state: string, id: string, sealed: string): string {
  const bytes = Buffer.from(sealed, 'base64url');
  try {
    if (bytes.length < 28) throw new Error('sealed payload too short');
    const decipher = createDecipheriv('aes-256-gcm', keyFor(state), bytes.subarray(0, 12), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new StrataError('DECRYPT_FAILED', 'the payload of an OAuth state does not decrypt: the stored record was altered', {
      op: 'oauthState.consume',
      hint: 'the state is consumed; start the login flow again',
      cause: error,
    });
  }
}

function parseState(value: unknown): StoredState | null {
  if (value === null) return null;
  const r = value as Partial<StoredState> | undefined;
  if (
    typeof r === 'object' &&
    typeof r.createdAt === 'number' &&
    typeof r.expiresAt === 'number' &&
    (r.sealed === null || typeof r.sealed === 'string')
  ) {
    return r as StoredState;
  }
  throw new StrataError('CORRUPT', 'an OAuth state record in the store is not one the auth kit wrote', {
    hint: 'the state namespace holds foreign data; give the kit its own namespace (its namespace option)',
  });
}
