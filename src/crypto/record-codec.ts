import { timingSafeEqual } from 'node:crypto';
import { parseJson } from '../codec/json.js';
import { StrataError } from '../errors.js';
import { decryptFailed, Sealer, SEALED_PREFIX, UNENCRYPTED_HINT } from './aead.js';
import type { EncryptedField, SpaceEncryption } from './spec.js';
import type { LookupChecks } from './filters.js';

/**
 * Turns the JSON text a handle writes into what is stored, and back: encrypted whole values
 * or fields, then (with integrity 'mac') a keyed MAC over space, key, expiry and text.
 *
 * Stored shapes:
 * - whole value: the JSON string `"enc1.<key id>.<...>"`;
 * - field: `"enc1..."` in place of the value, or `{ "$enc": "enc1...", "$eq": "<key id>.<hmac>" }`
 *   for a lookup field (the `$eq` token answers equality queries);
 * - MAC: collections (always objects) get a last member `"~mac": "<key id>.<hmac>"`, so
 *   queries over their fields work unchanged; other spaces' values are wrapped as
 *   `{"~mac": "...", "~v": <value>}`.
 */
export const LOOKUP_MEMBER = '$eq';
export const SEALED_MEMBER = '$enc';
const MAC_MEMBER = '"~mac":"';
const TAG_BODY = /^([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{43})$/;
const LOOKUP_CHARS = 32;
/** The wrapped form; a document cannot start so, since its own "~mac" field is refused. */
const WRAPPED = /^\{"~mac":"[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{43}","~v":/;

function integrity(space: string, key: string, why: string, hint?: string): StrataError {
  return new StrataError('INTEGRITY', `record "${key}" in ${space} fails its MAC: ${why}`, {
    hint: hint ?? 'it was changed, swapped or moved by someone without the key; restore it from a backup',
    details: { space, key },
  });
}

function tokenMismatch(space: string, key: string, field: EncryptedField): StrataError {
  return new StrataError(
    'INTEGRITY',
    `record "${key}" in ${space}: the lookup token of field "${field.name}" does not belong to its encrypted value`,
    {
      hint: "someone without the key copied a token into it; restore it from a backup (integrity 'mac' detects such changes on every read)",
      details: { space, key, field: field.name },
    },
  );
}

function noKeyring(space: string, key: string): StrataError {
  return decryptFailed(
    space,
    key,
    'it is encrypted and the store was opened without a keyring',
    'open the store with encryption: { keys } (CLI: --keys-file or STRATA_KEYS)',
  );
}

/** The equality token of `value` for lookup field `field` under key `keyId`. */
export function lookupToken(sealer: Sealer, keyId: string, space: string, field: string, value: unknown): string {
  return `${keyId}.${sealer.mac(keyId, 'lookup', `${space}\u0000${field}`, JSON.stringify(value)).slice(0, LOOKUP_CHARS)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The object holding `field`'s last segment, or undefined when a parent is absent. A parent
 * that is present but is not a plain object (an array, a scalar, null) is BAD_INPUT at any
 * depth: skipping it would store whatever lies below it, the secret included, in plain text.
 */
function parentOf(
  doc: Record<string, unknown>,
  field: EncryptedField,
  space: string,
  key: string,
): Record<string, unknown> | undefined {
  let node: unknown = doc;
  for (const segment of field.path.slice(0, -1)) {
    if (!isPlainObject(node)) throw notThroughObjects(field, space, key);
    if (!Object.hasOwn(node, segment)) return undefined;
    node = node[segment];
  }
  if (node === undefined) return undefined;
  if (!isPlainObject(node)) throw notThroughObjects(field, space, key);
  return node;
}

function notThroughObjects(field: EncryptedField, space: string, key: string): StrataError {
  return new StrataError(
    'BAD_INPUT',
    `document "${key}" in ${space}: encrypted field "${field.name}" sits under a value that is not an object (an array or a scalar)`,
    {
      hint: 'encrypted field paths must run through objects (not arrays or scalars): store an object there, or leave it out',
      details: { space, key, field: field.name },
    },
  );
}

export class RecordCodec {
  readonly sealer: Sealer | null;
  readonly mac: boolean;

  constructor(sealer: Sealer | null, mac: boolean) {
    this.sealer = sealer;
    this.mac = mac;
  }

  #need(space: string, key: string): Sealer {
    if (this.sealer === null) throw noKeyring(space, key);
    return this.sealer;
  }

  encode(space: string, key: string, text: string, expiresAt: number | null, spec: SpaceEncryption | undefined): string {
    let stored = spec === undefined ? text : this.#seal(space, key, text, spec);
    if (this.mac) stored = this.#sign(space, key, stored, expiresAt);
    return stored;
  }

  /** `checks`: the lookup tokens a query looked for, each of which must belong to the value it sits beside. */
  decode(
    space: string,
    key: string,
    stored: string,
    expiresAt: number | null,
    spec: SpaceEncryption | undefined,
    checks?: LookupChecks,
  ): string {
    const text = this.mac ? this.#check(space, key, stored, expiresAt) : stored;
    return spec === undefined ? text : this.#open(space, key, text, spec, false, checks);
  }

  /**
   * decode for a change this process made itself (a local watch event, whose expiry is not at
   * hand): the MAC is removed without being checked, the ciphertexts are still opened.
   */
  decodeOwn(space: string, key: string, stored: string, spec: SpaceEncryption | undefined): string {
    const text = this.mac ? (this.#split(space, key, stored)?.text ?? stored) : stored;
    return spec === undefined ? text : this.#open(space, key, text, spec);
  }

  /** Like decode without the MAC, but parts stored in plain text are taken as they are (rotateKeys' protectExisting). */
  decodeLenient(space: string, key: string, text: string, spec: SpaceEncryption): string {
    return this.#open(space, key, text, spec, true);
  }

  /** Key ids a stored value depends on (ciphertexts, lookup tokens, MAC), and whether any part is not under `primary`. */
  keysOf(space: string, key: string, stored: string, spec: SpaceEncryption | undefined, into: Set<string>): void {
    let text = stored;
    if (this.mac) {
      const split = this.#split(space, key, stored);
      if (split !== null) {
        into.add(split.keyId);
        text = split.text;
      } else into.add('');
    }
    if (spec === undefined) return;
    if (spec.whole) {
      into.add(Sealer.keyIdOf(text.slice(1, -1)) ?? '');
      return;
    }
    let doc: unknown;
    try {
      doc = parseJson(text);
    } catch {
      into.add('');
      return;
    }
    if (!isPlainObject(doc)) return;
    for (const field of spec.fields) {
      let parent: Record<string, unknown> | undefined;
      try {
        parent = parentOf(doc, field, space, key);
      } catch {
        // Not under any key: the rotation reads it, fails to open it and lists it in `failed`.
        into.add('');
        continue;
      }
      if (parent === undefined || !Object.hasOwn(parent, field.path.at(-1)!)) continue;
      const value = parent[field.path.at(-1)!];
      if (field.lookup && isPlainObject(value)) {
        into.add(Sealer.keyIdOf(String(value[SEALED_MEMBER])) ?? '');
        into.add(String(value[LOOKUP_MEMBER]).split('.')[0] ?? '');
      } else into.add(typeof value === 'string' ? (Sealer.keyIdOf(value) ?? '') : '');
    }
  }

  #seal(space: string, key: string, text: string, spec: SpaceEncryption): string {
    const sealer = this.#need(space, key);
    if (spec.whole) return `"${sealer.seal(space, key, '', text)}"`;
    const doc = parseJson(text) as Record<string, unknown>;
    for (const field of spec.fields) {
      const parent = parentOf(doc, field, space, key);
      const last = field.path.at(-1)!;
      if (parent === undefined || !Object.hasOwn(parent, last)) continue;
      const value = parent[last];
      const sealed = sealer.seal(space, key, field.name, JSON.stringify(value));
      if (!field.lookup) {
        parent[last] = sealed;
        continue;
      }
      if (value !== null && typeof value === 'object') {
        throw new StrataError(
          'BAD_INPUT',
          `document "${key}" in ${space}: lookup field "${field.name}" must hold a string, number, boolean or null`,
          {
            hint: 'equality look-ups compare scalar values; encrypt objects without lookup',
          },
        );
      }
      parent[last] = { [SEALED_MEMBER]: sealed, [LOOKUP_MEMBER]: lookupToken(sealer, sealer.primary, space, field.name, value) };
    }
    return JSON.stringify(doc);
  }

  #open(space: string, key: string, text: string, spec: SpaceEncryption, lenient = false, checks?: LookupChecks): string {
    const sealer = this.#need(space, key);
    if (spec.whole) {
      if (lenient && Sealer.keyIdOf(text.slice(1, -1)) === null) return text;
      if (text.length < 2 || text[0] !== '"' || text[text.length - 1] !== '"')
        throw decryptFailed(space, key, 'it is not encrypted', UNENCRYPTED_HINT);
      return sealer.open(space, key, '', text.slice(1, -1));
    }
    let doc: Record<string, unknown>;
    try {
      doc = parseJson(text) as Record<string, unknown>;
    } catch (cause) {
      throw new StrataError('CORRUPT', `record "${key}" in ${space} is not valid JSON`, { cause, details: { space, key } });
    }
    for (const field of spec.fields) {
      const parent = parentOf(doc, field, space, key);
      const last = field.path.at(-1)!;
      if (parent === undefined || !Object.hasOwn(parent, last)) continue;
      const stored = parent[last];
      const sealed = field.lookup && isPlainObject(stored) ? stored[SEALED_MEMBER] : stored;
      if (typeof sealed !== 'string' || !sealed.startsWith(SEALED_PREFIX)) {
        if (lenient) continue;
        throw decryptFailed(`${space} (field ${field.name})`, key, 'it is not encrypted', UNENCRYPTED_HINT);
      }
      const opened = sealer.open(space, key, field.name, sealed);
      // The sealed text is the value's JSON text, from which its token was made: compared as text.
      const expected = checks?.get(field.name)?.get(String((stored as Record<string, unknown>)[LOOKUP_MEMBER]));
      if (expected !== undefined && expected !== opened) throw tokenMismatch(space, key, field);
      parent[last] = parseJson(opened);
    }
    return JSON.stringify(doc);
  }

  #tag(space: string, key: string, keyId: string, text: string, expiresAt: number | null): string {
    return this.sealer!.mac(
      keyId,
      'mac',
      '',
      `${space.length}:${key.length}:${space}\u0000${key}\u0000${expiresAt ?? ''}\u0000${text}`,
    );
  }

  #sign(space: string, key: string, text: string, expiresAt: number | null): string {
    const sealer = this.#need(space, key);
    const tag = `${sealer.primary}.${this.#tag(space, key, sealer.primary, text, expiresAt)}`;
    // Collections' documents keep their shape (queries see their fields); anything else is wrapped.
    if (!space.startsWith('c.') || text[0] !== '{') return `{${MAC_MEMBER}${tag}","~v":${text}}`;
    // The text test is only a quick filter: "~mac" may also be a value or a nested field name.
    if (text.includes('"~mac"') && Object.hasOwn(parseJson(text) as object, '~mac')) {
      throw new StrataError(
        'BAD_INPUT',
        `document "${key}" in ${space} has a top-level field "~mac", which integrity 'mac' reserves`,
        {
          hint: 'rename the field',
        },
      );
    }
    return text === '{}' ? `{${MAC_MEMBER}${tag}"}` : `${text.slice(0, -1)},${MAC_MEMBER}${tag}"}`;
  }

  /** The MAC's key id and tag, and the text it covers; null when there is none. */
  #split(space: string, key: string, stored: string): { keyId: string; tag: string; text: string } | null {
    if (space.startsWith('c.') && !WRAPPED.test(stored)) {
      const at = stored.lastIndexOf(MAC_MEMBER);
      if (at < 1 || !stored.endsWith('"}')) return null;
      const match = TAG_BODY.exec(stored.slice(at + MAC_MEMBER.length, -2));
      const before = stored[at - 1];
      if (match === null || (before !== ',' && !(before === '{' && at === 1))) return null;
      return { keyId: match[1]!, tag: match[2]!, text: before === ',' ? `${stored.slice(0, at - 1)}}` : '{}' };
    }
    if (!stored.startsWith(`{${MAC_MEMBER}`) || !stored.endsWith('}')) return null;
    const start = 1 + MAC_MEMBER.length;
    const end = stored.indexOf('"', start);
    if (end < 0 || !stored.startsWith(',"~v":', end + 1)) return null;
    const match = TAG_BODY.exec(stored.slice(start, end));
    if (match === null) return null;
    return { keyId: match[1]!, tag: match[2]!, text: stored.slice(end + 7, -1) };
  }

  #check(space: string, key: string, stored: string, expiresAt: number | null): string {
    const sealer = this.#need(space, key);
    const split = this.#split(space, key, stored);
    if (split === null)
      throw integrity(
        space,
        key,
        'it carries no MAC',
        "if it was written before integrity 'mac' was enabled, store.rotateKeys({ protectExisting: true }) " +
          '(CLI: `strata rotate-keys --protect-existing`) signs it; if not, someone without the key wrote it: ' +
          'delete it or restore it from a backup',
      );
    if (!sealer.hasKey(split.keyId))
      throw integrity(
        space,
        key,
        `it was signed with key "${split.keyId}", which is not in the keyring`,
        `add key "${split.keyId}" back to encryption.keys`,
      );
    const expected = Buffer.from(this.#tag(space, key, split.keyId, split.text, expiresAt));
    const found = Buffer.from(split.tag);
    if (expected.length !== found.length || !timingSafeEqual(expected, found))
      throw integrity(space, key, 'the MAC does not match');
    return split.text;
  }
}
