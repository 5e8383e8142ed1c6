import { readFileSync, statSync, type Stats } from 'node:fs';
import { scrypt } from 'node:crypto';
import { StrataError } from '../errors.js';
import { checkOptions } from '../codec/options.js';

/** One key of a keyring as an application hands it over. */
export interface KeyInput {
  id: string;
  /** 32 bytes, or their base64 text. */
  key: Uint8Array | string;
}

/** A key derived from a passphrase with scrypt; the salt is kept in the store when not given. */
export interface PassphraseInput {
  passphrase: string;
  /** Base64 of at least 16 bytes. Leave it out to have the store make and keep one. */
  salt?: string;
  /** The id recorded in every ciphertext. @default 'p1' */
  id?: string;
}

/** `"k2:<base64>,k1:<base64>"` (first is primary), a list (first is primary), or a passphrase. */
export type KeyringInput = string | readonly KeyInput[] | PassphraseInput;

export interface EncryptionOptions {
  keys?: KeyringInput;
  /** A file holding the string form of a keyring; it must not be readable by other users. */
  keyFile?: string;
  /**
   * `'mac'`: every record carries an HMAC under the keyring, so a record changed, swapped or
   * moved by someone who can write the files but lacks the key is INTEGRITY on read and in
   * verify. @default 'checksum'
   */
  integrity?: 'checksum' | 'mac';
  /**
   * Decrypted values kept in memory so reading the same ciphertext again skips the cipher;
   * `0` keeps none (plaintext then lives only as long as your own references). @default 10000
   */
  cacheSize?: number;
}

/** A parsed keyring: raw 32-byte keys by id, the first one primary. */
export interface Keyring {
  readonly primary: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** A keyring still waiting for the store's salt (passphrase form). */
export interface PendingPassphrase {
  readonly id: string;
  readonly passphrase: string;
  readonly salt: Buffer | undefined;
}

export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** base64 or base64url text, padded or not. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const KEY_BYTES = 32;
const OP = 'openStore';

function bad(message: string, hint?: string): StrataError {
  // Never echo key material: messages name ids and positions only.
  return new StrataError('BAD_INPUT', `encryption: ${message}`, { op: OP, hint: hint ?? 'see "Encryption" in README.md' });
}

function checkId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !KEY_ID.test(id)) {
    throw bad(`${where}: a key id must be 1 to 32 letters, digits, '_' or '-'`);
  }
  // The store keeps a check value per key id in a JSON object, whose parser drops "__proto__".
  if (id === '__proto__') throw bad(`${where}: "__proto__" cannot be a key id`, 'give the key another id, such as "k1"');
  return id;
}

function decodeKey(key: unknown, id: string): Buffer {
  let bytes: Buffer;
  if (key instanceof Uint8Array) bytes = Buffer.from(key);
  else if (typeof key === 'string' && BASE64.test(key.trim())) bytes = Buffer.from(key.trim(), 'base64');
  else throw bad(`key "${id}" must be 32 bytes or their base64 text`);
  if (bytes.length !== KEY_BYTES) {
    throw bad(
      `key "${id}" is ${bytes.length} bytes, not ${KEY_BYTES}`,
      'a key is 32 random bytes, given as base64 (see "Encryption" in README.md)',
    );
  }
  return bytes;
}

function fromList(entries: readonly { id: unknown; key: unknown }[]): Keyring {
  if (entries.length === 0)
    throw bad('the keyring is empty', 'give at least one key, e.g. STRATA_KEYS="k1:<base64 of 32 bytes>"');
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, i) => {
    const id = checkId(entry.id, `key ${i + 1}`);
    if (keys.has(id)) throw bad(`key id "${id}" appears twice`);
    keys.set(id, decodeKey(entry.key, id));
  });
  return { primary: [...keys.keys()][0]!, keys };
}

/** `"k2:<base64>,k1:<base64>"`: whitespace and newlines around entries are ignored. */
export function parseKeyString(text: string): Keyring {
  const entries = text
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part, i) => {
      const colon = part.indexOf(':');
      if (colon <= 0) throw bad(`entry ${i + 1} is not "<id>:<base64 key>"`);
      return { id: part.slice(0, colon), key: part.slice(colon + 1) };
    });
  return fromList(entries);
}

function readKeyFile(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) throw bad('keyFile must be a file path');
  let found: Stats;
  try {
    found = statSync(path);
  } catch (cause) {
    throw new StrataError('BAD_INPUT', `encryption: cannot read the key file ${path}`, {
      op: OP,
      cause,
      hint: 'check the keyFile path (CLI: --keys-file)',
    });
  }
  // The kind first: a directory's mode says nothing about a key file, and `chmod 600` on it
  // would only lead to "cannot read".
  if (!found.isFile()) {
    throw bad(`the key file ${path} is not a regular file`, 'keyFile must name a file this user can read (CLI: --keys-file)');
  }
  if (process.platform !== 'win32' && (found.mode & 0o077) !== 0) {
    throw bad(`the key file ${path} can be read by other users`, `restrict it: chmod 600 ${path}`);
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new StrataError('BAD_INPUT', `encryption: cannot read the key file ${path}`, {
      op: OP,
      cause,
      hint: 'keyFile must name a file this user can read (CLI: --keys-file)',
    });
  }
}

/**
 * Reads `encryption` from openStore's options: a keyring, or a passphrase whose key is
 * derived once the store's salt is known. `undefined` when encryption is not configured.
 */
export function parseEncryption(
  options: unknown,
): { keyring?: Keyring; passphrase?: PendingPassphrase; integrity: 'checksum' | 'mac'; cacheSize: number } | undefined {
  if (options === undefined) return undefined;
  checkOptions(options, ['keys', 'keyFile', 'integrity', 'cacheSize'], 'openStore encryption');
  const o = options as EncryptionOptions;
  const integrity = o.integrity ?? 'checksum';
  if (integrity !== 'checksum' && integrity !== 'mac') throw bad(`integrity must be 'checksum' or 'mac'`);
  const cacheSize = o.cacheSize ?? 10_000;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0 || cacheSize > 10_000_000) {
    throw bad('cacheSize must be an integer from 0 to 10000000');
  }
  if (o.keys !== undefined && o.keyFile !== undefined) throw bad('give keys or keyFile, not both');
  if (o.keyFile !== undefined) return { keyring: parseKeyString(readKeyFile(o.keyFile)), integrity, cacheSize };
  const keys: unknown = o.keys;
  if (keys === undefined || keys === '' || keys === null) {
    throw bad('encryption.keys is empty', 'set STRATA_KEYS (for example "k1:<base64 of 32 bytes>") or pass encryption.keyFile');
  }
  if (typeof keys === 'string') return { keyring: parseKeyString(keys), integrity, cacheSize };
  if (Array.isArray(keys)) {
    for (const [i, entry] of keys.entries()) {
      if (entry === null || typeof entry !== 'object') throw bad(`key ${i + 1} must be { id, key }`);
      checkOptions(entry, ['id', 'key'], `openStore encryption.keys[${i}]`);
    }
    return { keyring: fromList(keys as { id: unknown; key: unknown }[]), integrity, cacheSize };
  }
  if (typeof keys === 'object') {
    checkOptions(keys, ['passphrase', 'salt', 'id'], 'openStore encryption.keys');
    const p = keys as Partial<PassphraseInput>;
    if (typeof p.passphrase !== 'string' || p.passphrase.length < 8)
      throw bad('a passphrase must be a string of at least 8 characters');
    let salt: Buffer | undefined;
    if (p.salt !== undefined) {
      // Node's decoder skips characters that are not base64: text that is not base64 would be
      // taken as some other salt instead of refused.
      const text = typeof p.salt === 'string' ? p.salt.trim() : '';
      salt = BASE64.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
      if (salt.length < 16) throw bad('salt must be the base64 text of at least 16 bytes');
    }
    return { passphrase: { id: checkId(p.id ?? 'p1', 'passphrase'), passphrase: p.passphrase, salt }, integrity, cacheSize };
  }
  throw bad('encryption.keys must be a string, a list of { id, key } or { passphrase }');
}

/** scrypt cost: about 100 ms and 32 MiB, once per open. */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export function deriveFromPassphrase(pending: PendingPassphrase, salt: Buffer): Promise<Keyring> {
  return new Promise((resolve, reject) => {
    scrypt(pending.passphrase.normalize('NFC'), salt, KEY_BYTES, SCRYPT, (error, key) => {
      if (error)
        reject(
          new StrataError('UNAVAILABLE', 'encryption: deriving the key from the passphrase failed', { op: OP, cause: error }),
        );
      else resolve({ primary: pending.id, keys: new Map([[pending.id, key]]) });
    });
  });
}
