import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomFillSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { StrataError } from '../errors.js';
import type { Keyring } from './keyring.js';
import { OpenedCache } from './opened-cache.js';

/**
 * Sealed text: `enc1.<key id>.<base64url(nonce 12 | commitment 32 | ciphertext | tag 16)>`.
 *
 * - AES-256-GCM under a subkey derived with HKDF from the keyring key, the store id, the space
 *   and the field, so each (store, space, field) has its own key;
 * - associated data binds the ciphertext to store, space, record key and field: one copied to
 *   another record, field or store does not open;
 * - GCM is not key-committing (a crafted ciphertext can open under two keys), so each one also
 *   carries an HMAC of its subkey: opening checks it before trying the tag.
 */
export const SEALED_PREFIX = 'enc1.';
const NONCE = 12;
const COMMIT = 32;
const TAG = 16;
/** Opened values kept by default (see Sealer). */
export const DEFAULT_CACHE_SIZE = 10_000;
const SEALED = /^enc1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]+)$/;

interface Subkey {
  key: Buffer;
  /** The same key as a KeyObject: ciphers made from it skip copying and checking raw bytes. */
  object: KeyObject;
  commitment: Buffer;
}

/** Nonces come from a pool filled by the CSPRNG in one call: a call per write costs more than the cipher. */
const POOL = Buffer.alloc(NONCE * 512);
let poolAt = POOL.length;
function nonce(): Buffer {
  if (poolAt === POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  // Copied out, so refilling the pool never changes a nonce in use.
  const out = Buffer.from(POOL.subarray(poolAt, poolAt + NONCE));
  POOL.fill(0, poolAt, poolAt + NONCE);
  poolAt += NONCE;
  return out;
}

/**
 * For a value stored in plain text where its space or field is encrypted. A plain
 * `rotateKeys()` leaves such a value as it is (it could have been planted by someone without
 * the key), so the hint names the option that adopts it.
 */
export const UNENCRYPTED_HINT =
  'if it was written before encryption was declared, store.rotateKeys({ protectExisting: true }) ' +
  '(CLI: `strata rotate-keys --protect-existing`) encrypts it; if not, someone without the key put it there: ' +
  'delete it or restore it from a backup';

export function decryptFailed(space: string, key: string, why: string, hint?: string): StrataError {
  return new StrataError('DECRYPT_FAILED', `cannot decrypt "${key}" in ${space}: ${why}`, {
    hint: hint ?? 'the value was changed, moved from another record, or written under another key',
    details: { space, key },
  });
}

/** Seals and opens values for one store under one keyring. Subkeys are derived once and kept. */
export class Sealer {
  readonly #keyring: Keyring;
  readonly #storeId: Buffer;
  readonly #subkeys = new Map<string, Subkey>();
  /**
   * Recently opened values by record (space, field, key) and ciphertext: a ciphertext opens to one
   * plaintext only, so reading it again need not run the cipher (which costs more than the
   * read). Bounded; oldest entries go first. `cacheSize: 0` turns it off.
   */
  readonly #opened: OpenedCache;
  readonly #cacheSize: number;

  constructor(keyring: Keyring, storeId: string, cacheSize = DEFAULT_CACHE_SIZE) {
    this.#keyring = keyring;
    this.#storeId = Buffer.from(storeId, 'utf8');
    this.#cacheSize = cacheSize;
    this.#opened = new OpenedCache(cacheSize);
  }

  /** The same keyring bound to another store id: store.import opens ciphertext carried from another store with it. */
  forStore(storeId: string): Sealer {
    return new Sealer(this.#keyring, storeId, 0);
  }

  get primary(): string {
    return this.#keyring.primary;
  }

  hasKey(id: string): boolean {
    return this.#keyring.keys.has(id);
  }

  /** A key derived for `purpose` (`enc`, `lookup`, `mac`, `check`) and scope, cached. */
  derive(keyId: string, purpose: string, scope: string): Buffer {
    return this.#subkey(keyId, purpose, scope).key;
  }

  #subkey(keyId: string, purpose: string, scope: string): Subkey {
    const id = `${keyId}\u0000${purpose}\u0000${scope}`;
    let found = this.#subkeys.get(id);
    if (found === undefined) {
      const master = this.#keyring.keys.get(keyId)!;
      const key = Buffer.from(hkdfSync('sha256', master, this.#storeId, `strata/1/${purpose}\u0000${scope}`, 32));
      const commitment = createHmac('sha256', key).update('strata/1/key-commitment').digest();
      found = { key, object: createSecretKey(key), commitment };
      this.#subkeys.set(id, found);
    }
    return found;
  }

  #aad(space: string, key: string, field: string): Buffer {
    // Lengths first: no two (space, key, field) triples give the same bytes.
    return Buffer.from(`${space.length}:${key.length}:${field.length}:${space}\u0000${key}\u0000${field}`, 'utf8');
  }

  /** Seals `plaintext` (UTF-8 text) for `field` (`''` for a whole value) of a record. */
  seal(space: string, key: string, field: string, plaintext: string): string {
    const keyId = this.#keyring.primary;
    const sub = this.#subkey(keyId, 'enc', `${space}\u0000${field}`);
    const iv = nonce();
    const cipher = createCipheriv('aes-256-gcm', sub.object, iv);
    cipher.setAAD(this.#aad(space, key, field));
    const body = Buffer.concat([iv, sub.commitment, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}${keyId}.${body.toString('base64url')}`;
  }

  /** The key id a sealed text names, or null when it is not sealed text. */
  static keyIdOf(sealed: string): string | null {
    const match = SEALED.exec(sealed);
    return match === null ? null : match[1]!;
  }

  /** Opens sealed text; anything changed, moved or under another key is DECRYPT_FAILED. */
  open(space: string, key: string, field: string, sealed: string): string {
    if (this.#cacheSize === 0) return this.#open(space, key, field, sealed);
    // By record, and only for the exact ciphertext opened for it: the same ciphertext met
    // under another record, field or space is opened (and refused).
    const known = this.#opened.get(space, field, key, sealed);
    if (known !== undefined) return known;
    const text = this.#open(space, key, field, sealed);
    this.#opened.add(space, field, key, sealed, text);
    return text;
  }

  #open(space: string, key: string, field: string, sealed: string): string {
    const where = field === '' ? space : `${space} (field ${field})`;
    const match = typeof sealed === 'string' ? SEALED.exec(sealed) : null;
    if (match === null) throw decryptFailed(where, key, 'it is not encrypted', UNENCRYPTED_HINT);
    const keyId = match[1]!;
    if (!this.#keyring.keys.has(keyId)) {
      throw decryptFailed(
        where,
        key,
        `it was encrypted with key "${keyId}", which is not in the keyring`,
        `add key "${keyId}" back to encryption.keys`,
      );
    }
    const body = Buffer.from(match[2]!, 'base64url');
    // Non-canonical base64 (other unused low bits in the last character) decodes to the same
    // bytes, which the tag still authenticates: nothing can be changed through it.
    if (body.length < NONCE + COMMIT + TAG) throw decryptFailed(where, key, 'it is truncated or damaged');
    const sub = this.#subkey(keyId, 'enc', `${space}\u0000${field}`);
    if (!timingSafeEqual(body.subarray(NONCE, NONCE + COMMIT), sub.commitment))
      throw decryptFailed(where, key, 'the key does not match');
    try {
      const decipher = createDecipheriv('aes-256-gcm', sub.object, body.subarray(0, NONCE));
      decipher.setAAD(this.#aad(space, key, field));
      decipher.setAuthTag(body.subarray(body.length - TAG));
      const head = decipher.update(body.subarray(NONCE + COMMIT, body.length - TAG));
      const tail = decipher.final();
      // Decoded only once authenticated, in one piece (a streaming decoder costs more).
      return (tail.length === 0 ? head : Buffer.concat([head, tail])).toString('utf8');
    } catch {
      throw decryptFailed(where, key, 'authentication failed');
    }
  }

  /** A keyed, key-id-tagged HMAC (blind indexes and record MACs). */
  mac(keyId: string, purpose: string, scope: string, data: string): string {
    return createHmac('sha256', this.derive(keyId, purpose, scope))
      .update(data, 'utf8')
      .digest('base64url');
  }

  /** The check value that tells whether key `keyId` is the one a store was written with. */
  keyCheck(keyId: string, integrity: 'checksum' | 'mac'): string {
    // Bound to the integrity mode too: flipping it in the stored record is refused at open.
    return this.mac(keyId, 'check', '', `strata key check\u0000${integrity}`).slice(0, 22);
  }
}
