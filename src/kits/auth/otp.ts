// One-time codes (email / SMS login, confirmation codes): short, so what protects them is the
// attempt limit, counted atomically in the store so that parallel guesses from any number of
// processes share the same 5 tries.
//
// Every verification is one transaction on the record that counts the attempt (or uses a
// right code up) together with the comparison, and answers only once that committed: at most
// `maxAttempts` answers are ever given about one code, however the guesses race. The code is stored as an HMAC-SHA256 with a random per-code salt (keyed with
// `secret` when given), compared with crypto.timingSafeEqual.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { StrataError, type Duration, type KvNamespace, type Store } from '../../index.js';
import { checkIdentifier, checkKnown, checkStore, clockOption, durationOption, intOption, namespaceOption } from './config.js';
import { hmac, lookupKey, randomCode, randomToken } from './secrets.js';

export interface OtpOptions {
  /** How long a code can be used after it is issued. @default '10m' */
  ttl?: Duration;
  /** Verifications allowed per code (right or wrong); then it is locked until a new one is issued. 1 to 100. @default 5 */
  maxAttempts?: number;
  /** Characters in a code, 4 to 16. @default 6 */
  length?: number;
  /** The characters codes are drawn from: 2 to 64 distinct, no whitespace. @default '0123456789' */
  alphabet?: string;
  /**
   * A server-side secret (at least 16 bytes) mixed into the stored hashes. Without it, someone
   * holding a copy of the store can find a live code by trying every possible one offline.
   */
  secret?: string | Uint8Array;
  /** The kv namespace codes are kept in. @default 'auth.otp' */
  namespace?: string;
  /** Epoch ms for every expiry decision. @default Date.now */
  clock?: () => number;
}

/**
 * What `verify` found. `invalid`: wrong code (`attemptsLeft` more may be tried). `expired`:
 * the code's ttl passed. `locked`: `maxAttempts` used up. `missing`: no code for this subject
 * (never issued, revoked, already used, or swept after it expired).
 */
export type OtpResult =
  { ok: true } | { ok: false; reason: 'invalid'; attemptsLeft: number } | { ok: false; reason: 'expired' | 'locked' | 'missing' };

export interface IssuedCode {
  /** Send it to the user; it is not stored and cannot be read back. */
  code: string;
  expiresAt: Date;
}

interface StoredCode {
  /** Tells this code from one issued later under the same subject. */
  id: string;
  salt: string;
  hash: string;
  attempts: number;
  issuedAt: number;
  expiresAt: number;
}

const OPTIONS = ['ttl', 'maxAttempts', 'length', 'alphabet', 'secret', 'namespace', 'clock'] as const;
/** Expired codes stay this long before the store sweeps them, so a late verify can say `expired`. */
const GRACE_MS = 3_600_000;
/** Transaction retries before a verification gives up under contention. */
const ROUNDS = 100;

/** One-time codes over a kv namespace of an open store. */
export class OtpStore {
  readonly #store: Store;
  readonly #namespace: string;
  readonly #kv: KvNamespace<unknown>;
  readonly #ttl: number;
  readonly #maxAttempts: number;
  readonly #length: number;
  readonly #alphabet: string;
  readonly #secret: Buffer | null;
  readonly #now: () => number;

  constructor(store: Store, options: OtpOptions = {}) {
    const op = 'OtpStore';
    this.#store = checkStore(store, op);
    checkKnown(options, OPTIONS, op);
    this.#ttl = durationOption(options.ttl, '10m', 'ttl', op);
    this.#maxAttempts = intOption(options.maxAttempts, 5, 'maxAttempts', op, 1, 100);
    this.#length = intOption(options.length, 6, 'length', op, 4, 16);
    this.#alphabet = checkAlphabet(options.alphabet ?? '0123456789', op);
    this.#secret = checkSecret(options.secret, op);
    this.#now = clockOption(options.clock, op);
    this.#namespace = namespaceOption(options.namespace, 'auth.otp', op);
    this.#kv = this.#store.kv(this.#namespace);
  }

  /** A new code for `subject` (an email, a user id...); any earlier code of the subject stops working. */
  async issue(subject: string): Promise<IssuedCode> {
    checkIdentifier(subject, 'subject', 'otp.issue');
    const code = randomCode(this.#length, this.#alphabet);
    const salt = randomBytes(16);
    const now = this.#now();
    const record: StoredCode = {
      id: randomToken(16),
      salt: salt.toString('base64url'),
      hash: this.#hash(salt, code).toString('base64url'),
      attempts: 0,
      issuedAt: now,
      expiresAt: now + this.#ttl,
    };
    await this.#kv.set(this.#key(subject), record, { ttl: this.#ttl + GRACE_MS });
    return { code, expiresAt: new Date(record.expiresAt) };
  }

  /** Checks `code` for `subject`; a right one is used up at once. */
  async verify(subject: string, code: string): Promise<OtpResult> {
    const op = 'otp.verify';
    checkIdentifier(subject, 'subject', op);
    if (typeof code !== 'string') throw new StrataError('BAD_INPUT', `${op}: the code must be a string`, { op });
    const key = this.#key(subject);
    // One transaction takes the attempt, compares, and uses a right code up: a code used up
    // and issued anew meanwhile (at version 1 again) is seen as the new code, and of two
    // right verifications the second sees the code gone ('missing'), not its attempts spent.
    // Only a committed attempt returns its answer, so however verifications race, at most
    // `maxAttempts` answers are ever given about one code.
    return this.#contended(op, () =>
      this.#store.transaction(
        async (tx): Promise<OtpResult> => {
          const kv = tx.kv<unknown>(this.#namespace);
          const record = parseCode(await kv.get(key));
          if (record === null) return { ok: false, reason: 'missing' };
          const now = this.#now();
          if (now >= record.expiresAt) return { ok: false, reason: 'expired' };
          if (record.attempts >= this.#maxAttempts) return { ok: false, reason: 'locked' };
          const given = this.#hash(Buffer.from(record.salt, 'base64url'), code);
          if (timingSafeEqual(given, Buffer.from(record.hash, 'base64url'))) {
            await kv.delete(key);
            return { ok: true };
          }
          const attempts = record.attempts + 1;
          await kv.set(key, { ...record, attempts } satisfies StoredCode, { ttl: record.expiresAt - now + GRACE_MS });
          return { ok: false, reason: 'invalid', attemptsLeft: Math.max(0, this.#maxAttempts - attempts) };
        },
        { retries: ROUNDS },
      ),
    );
  }

  /** `run`, with a CONFLICT after every retry reported as contention on the code. */
  async #contended<T>(op: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (StrataError.is(error, 'CONFLICT')) throw contention(op);
      throw error;
    }
  }

  /** Withdraws the code of `subject`; `true` when there was one. */
  async revoke(subject: string): Promise<boolean> {
    checkIdentifier(subject, 'subject', 'otp.revoke');
    return this.#kv.delete(this.#key(subject));
  }

  #hash(salt: Buffer, code: string): Buffer {
    return hmac(this.#secret ?? salt, salt, code);
  }

  /** Subjects are often emails: the key holds their hash (an HMAC with `secret`), not the text. */
  #key(subject: string): string {
    const digest = this.#secret === null ? lookupKey(subject) : hmac(this.#secret, 'subject', subject).toString('base64url');
    return `o:${digest}`;
  }
}

function contention(op: string): StrataError {
  return new StrataError('CONFLICT', `${op}: the code kept changing under concurrent verifications`, {
    op,
    hint: 'retry the verification',
  });
}

function checkAlphabet(alphabet: unknown, op: string): string {
  const symbols = typeof alphabet === 'string' && alphabet.isWellFormed() ? [...alphabet] : [];
  if (
    symbols.length >= 2 &&
    symbols.length <= 64 &&
    new Set(symbols).size === symbols.length &&
    !/\s/u.test(alphabet as string)
  ) {
    return alphabet as string;
  }
  throw new StrataError('BAD_INPUT', `${op}: alphabet must be 2 to 64 distinct characters, no whitespace`, {
    op,
    hint: "leave it out for digits, or pass e.g. 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'",
    details: { option: 'alphabet' },
  });
}

function checkSecret(secret: unknown, op: string): Buffer | null {
  if (secret === undefined) return null;
  const bytes =
    typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret instanceof Uint8Array ? Buffer.from(secret) : null;
  if (bytes !== null && bytes.length >= 16) return bytes;
  // The message names the option only: never a byte of what was passed.
  throw new StrataError('BAD_INPUT', `${op}: secret must be a string or bytes of at least 16 bytes`, {
    op,
    hint: 'pass 32 random bytes (for example from your secret manager), or leave secret out',
    details: { option: 'secret' },
  });
}

function parseCode(value: unknown): StoredCode | null {
  if (value === null) return null;
  const r = value as Partial<StoredCode> | undefined;
  if (
    typeof r === 'object' &&
    typeof r.id === 'string' &&
    typeof r.salt === 'string' &&
    typeof r.hash === 'string' &&
    // 32 bytes of base64url: anything else would fail the constant-time compare with a TypeError.
    /^[A-Za-z0-9_-]{43}$/.test(r.hash) &&
    typeof r.attempts === 'number' &&
    typeof r.expiresAt === 'number'
  ) {
    return r as StoredCode;
  }
  throw new StrataError('CORRUPT', 'a one-time code record in the store is not one the auth kit wrote', {
    hint: 'the code namespace holds foreign data; give the kit its own namespace (its namespace option)',
  });
}
