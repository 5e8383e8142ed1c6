// The seed's SecurityManager. Strata already encrypts stored secrets (kv `encrypt`, collection
// `encrypt` fields); this is for what the app hands elsewhere: an encrypted string bound to a
// context (AES-256-GCM, the context as associated data, so a value sealed for "settings:tokens"
// does not open as "export:tokens"), keyed hashes and checksums.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { StrataError } from '../../src/index.js';

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
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#cipherKey, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(data, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  async decrypt(encryptedData: string, context: string): Promise<string> {
    const [version, payload] = String(encryptedData).split('.');
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
    return createHmac('sha256', this.#hashKey).update(data, 'utf8').digest('hex');
  }

  /** SHA-256 of the canonical JSON of `data` (object keys sorted), so key order does not matter. */
  generateChecksum(data: unknown): string {
    return createHash('sha256').update(canonical(data), 'utf8').digest('hex');
  }

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

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
