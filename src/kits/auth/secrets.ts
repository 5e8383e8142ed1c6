// The few primitives the kit's secrets rest on, all from node:crypto.
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';

/** `bytes` from the CSPRNG as base64url (no padding): 32 bytes give 43 characters, 256 bits. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * The key a secret is stored under: its SHA-256. The secrets are >= 128 random bits, so the
 * hash cannot be reversed or guessed, and the stored key alone lets nobody present the secret.
 */
export function lookupKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** HMAC-SHA256 of `parts` (each length-prefixed, so `('ab','c')` and `('a','bc')` differ). */
export function hmac(key: Buffer, ...parts: Array<string | Buffer>): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    mac.update(length).update(bytes);
  }
  return mac.digest();
}

/** `length` characters drawn uniformly from `alphabet` (randomInt rejects samples: no modulo bias). */
export function randomCode(length: number, alphabet: string): string {
  const symbols = [...alphabet];
  let code = '';
  for (let i = 0; i < length; i++) code += symbols[randomInt(symbols.length)]!;
  return code;
}
