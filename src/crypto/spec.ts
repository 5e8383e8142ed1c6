import { parsePath } from '../query/parse.js';
import { parseJson } from '../codec/json.js';
import { StrataError } from '../errors.js';

/** One encrypted field of a collection: a dotted path, optionally with a blind index for equality. */
export interface EncryptedField {
  readonly name: string;
  readonly path: readonly string[];
  /** Equality look-ups through a keyed HMAC of the value (leaks which documents share a value). */
  readonly lookup: boolean;
}

/** How one space is encrypted: whole values (kv) or some fields (collections). */
export interface SpaceEncryption {
  readonly whole: boolean;
  readonly fields: readonly EncryptedField[];
}

/** What `collection(name, { encrypt })` accepts for one field. */
export type EncryptFieldInput = string | { path: string; lookup?: boolean };

function bad(where: string, message: string): StrataError {
  return new StrataError('BAD_INPUT', `${where}: ${message}`, {
    hint: 'encrypt takes a list of dotted field paths, each a string or { path, lookup }',
  });
}

/** Parses and checks a collection's `encrypt` list; `keyField` is stored in the clear and cannot be encrypted. */
export function parseEncryptFields(input: unknown, keyField: string, where: string): EncryptedField[] {
  if (!Array.isArray(input)) throw bad(where, 'encrypt must be an array of field paths');
  const fields: EncryptedField[] = [];
  for (const entry of input as unknown[]) {
    let name: unknown = entry;
    let lookup = false;
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) {
      const keys = Object.keys(entry);
      const unknown = keys.find((k) => k !== 'path' && k !== 'lookup');
      if (unknown !== undefined) throw bad(where, `unknown option "${unknown}" in an encrypt entry`);
      name = (entry as { path?: unknown }).path;
      const l = (entry as { lookup?: unknown }).lookup;
      if (l !== undefined && typeof l !== 'boolean') throw bad(where, 'lookup must be a boolean');
      lookup = l === true;
    }
    if (typeof name !== 'string') throw bad(where, 'each encrypt entry is a field path or { path, lookup }');
    const path = parsePath(name);
    if (path[0] === keyField)
      throw bad(where, `"${name}" holds the document key, which is stored in the clear and cannot be encrypted`);
    for (const other of fields) {
      const overlap =
        other.path.length <= path.length ? other.path.every((s, i) => path[i] === s) : path.every((s, i) => other.path[i] === s);
      if (overlap) throw bad(where, `"${name}" and "${other.name}" overlap; encrypt one of them`);
    }
    fields.push({ name: path.join('.'), path, lookup });
  }
  return fields;
}

/** Where specs are remembered, so every process (and the CLI) decrypts the same spaces. */
export const ENCRYPTED_SPACE = 'meta.encrypted';

export function specText(spec: SpaceEncryption): string {
  return JSON.stringify({ whole: spec.whole, fields: spec.fields.map((f) => ({ path: f.name, lookup: f.lookup })) });
}

/** `[path, lookup]` pairs as one text, whatever their order: `['b', 'a']` reads as `['a', 'b']`. */
export function fieldSetText(fields: ReadonlyArray<readonly [path: unknown, lookup: boolean]>): string {
  return JSON.stringify(fields.map((f) => JSON.stringify(f)).sort());
}

/** The same fields, each with the same lookup flag, in any order. */
export function sameEncryption(a: SpaceEncryption, b: SpaceEncryption): boolean {
  const fields = (spec: SpaceEncryption): string => fieldSetText(spec.fields.map((f) => [f.name, f.lookup] as const));
  return a.whole === b.whole && fields(a) === fields(b);
}

export function parseSpecText(space: string, text: string): SpaceEncryption {
  try {
    const raw = parseJson(text) as { whole?: unknown; fields?: unknown };
    if (typeof raw.whole !== 'boolean' || !Array.isArray(raw.fields)) throw new Error('shape');
    return { whole: raw.whole, fields: parseEncryptFields(raw.fields, '\u0000', space) };
  } catch (cause) {
    throw new StrataError('CORRUPT', `the remembered encryption of ${space} is damaged`, {
      cause,
      hint: 'declare the namespace or collection again with its encrypt option to rewrite it',
      details: { space: ENCRYPTED_SPACE, key: space },
    });
  }
}
