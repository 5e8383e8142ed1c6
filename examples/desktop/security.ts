// The seed's SecurityManager. Strata already encrypts stored secrets (kv `encrypt`, collection
// `encrypt` fields); this is for what the app hands elsewhere: an encrypted string bound to a
// context (AES-256-GCM, the context as associated data, so a value sealed for "settings:tokens"
// does not open as "export:tokens"), keyed hashes and checksums.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { StrataError } from '../../src/index.js';
import { bad } from './checks.js';

const VERSION = 'ksm1';

export class SecurityManager {
  readonly #cipherKey: Buffer;
  readonly #hashKey: Buffer;

  /** `masterKey`: 32 random bytes the app keeps in its keyring (the OS keychain in production). */
  constructor(masterKey: Buffer) {
    if (!Buffer.isBuffer(masterKey) || masterKey.length !== 32) {
      throw new StrataError('BAD_INPUT', 'SecurityManager needs a 32-byte key', {
        hint: 'pass randomBytes(32), kept in the keyring',
      });
    }
    this.#cipherKey = Buffer.from(hkdfSync('sha256', masterKey, 'kazari', 'security-manager/encrypt', 32));
    this.#hashKey = Buffer.from(hkdfSync('sha256', masterKey, 'kazari', 'security-manager/hash', 32));
  }

  async encrypt(data: string, context: string): Promise<string> {
    checkStrings('securityManager.encrypt', { data, context });
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#cipherKey, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(data, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  async decrypt(encryptedData: string, context: string): Promise<string> {
    checkStrings('securityManager.decrypt', { encryptedData, context });
    const [version, payload] = encryptedData.split('.');
    const raw = Buffer.from(payload ?? '', 'base64url');
    if (version !== VERSION || raw.length < 28) throw refused();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#cipherKey, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw refused();
    }
  }

  /** A keyed hash (HMAC-SHA256): equal inputs compare equal, but the hash reveals nothing without the key. */
  hashSensitiveData(data: string): string {
    checkStrings('securityManager.hashSensitiveData', { data });
    return createHmac('sha256', this.#hashKey).update(data, 'utf8').digest('hex');
  }

  /**
   * SHA-256 of a canonical text of `data`: JSON with object keys sorted (so key order does
   * not matter), where what JSON would blur is written apart: a Date as `Date(<ms>)` (not the
   * string it serialises to), undefined, NaN, ±Infinity and -0 as themselves. Properties
   * whose value is undefined are left out, as JSON does. Anything else (a cycle, a BigInt, a
   * function, a symbol, a Map or other class instance) is BAD_INPUT: it has no text that
   * tells it apart.
   */
  generateChecksum(data: unknown): string {
    return createHash('sha256').update(canonical(data), 'utf8').digest('hex');
  }

  /** Whether `data` has this checksum; data it cannot checksum is BAD_INPUT, as for generateChecksum. */
  validateDataIntegrity(data: unknown, checksum: string): boolean {
    const expected = Buffer.from(this.generateChecksum(data), 'hex');
    const given = Buffer.from(typeof checksum === 'string' ? checksum : '', 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

function refused(): StrataError {
  return new StrataError(
    'DECRYPT_FAILED',
    'SecurityManager.decrypt: the data was altered, or sealed with another key or context',
    {
      hint: 'decrypt with the key and the context it was encrypted with',
    },
  );
}

const PASS: Record<string, string> = {
  data: 'a string (JSON.stringify other values first)',
  encryptedData: 'the string encrypt() returned',
  context: "a string naming where the value is used, e.g. 'settings:tokens'",
};

function checkStrings(op: string, args: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(args))
    if (typeof value !== 'string') throw bad(op, `${name} must be a string`, `pass ${PASS[name]}`);
}

const MAX_DEPTH = 1000;

function canonical(value: unknown, open: Set<object> = new Set()): string {
  if (value === undefined) return 'undefined';
  // String() of a finite number is its JSON text; NaN and ±Infinity, which JSON writes as null, stay apart.
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (value instanceof Date) return `Date(${value.getTime()})`;
  if (typeof value !== 'object' || !isPlain(value)) throw uncheckable(value);
  if (Object.getOwnPropertySymbols(value).length > 0) throw uncheckable(value, 'symbol keys, which it cannot see');
  if (open.has(value)) throw uncheckable(value, 'a cycle (an object that contains itself)');
  if (open.size >= MAX_DEPTH) throw uncheckable(value, `more than ${MAX_DEPTH} levels of nesting`);
  open.add(value);
  try {
    if (Array.isArray(value)) return `[${Array.from(value, (item) => canonical(item, open)).join(',')}]`;
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v, open)}`).join(',')}}`;
  } finally {
    open.delete(value);
  }
}

// A class instance (Map, Buffer...) keeps its data where Object.entries does not look, so
// two different ones would get one checksum.
function isPlain(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}

function uncheckable(value: unknown, why?: string): StrataError {
  const kind = typeof value === 'object' ? (Object.getPrototypeOf(value)?.constructor?.name ?? 'object') : typeof value;
  return bad(
    'securityManager.generateChecksum',
    why === undefined ? `cannot checksum a value of type ${kind}` : `cannot checksum the data: it has ${why}`,
    'pass plain objects, arrays, strings, numbers, booleans, null and Dates',
  );
}
