import type { Driver, RawRecord, StoredRecord } from '../drivers/driver.js';
import { encodeJson, isExactJson, parseJson } from '../codec/json.js';
import { checkKey } from '../codec/keys.js';
import { parseSpec, SPECS_SPACE } from '../collection-specs.js';
import { CRYPTO_SPACE, readCryptoState } from '../crypto/state.js';
import { ENCRYPTED_SPACE, parseSpecText } from '../crypto/spec.js';
import { damagedBackup, JOURNAL_SPACE, journalSeqOfKey, type BackupManifest } from './backup-format.js';

/**
 * The records of a `records` backup, held to what a write could have stored. The sha256 sums
 * of a backup are plain (anyone can recompute them), so a part written by hand reaches these
 * checks, and a record no write makes must not reach a store: a key with a lone surrogate is
 * changed by SQLite (UTF-8 text) and then fails its checksum, `1e999` reads back as Infinity,
 * and so on. Every space is held to the same rules, `meta.*` included (Strata writes those
 * from JSON.stringify, which never makes what the rules refuse).
 *
 * - keys (per line, `recordKeyProblem`): `checkKey`'s rules, non-empty, well-formed,
 *   at most 1,024 UTF-8 bytes;
 * - values (`checkBackupRecords`, on the rebuilt copy): JSON that the write path's own value
 *   check (`isExactJson` / `encodeJson` of codec/json.ts) accepts: finite numbers, well-formed
 *   strings and member names, no `__proto__` member, at most MAX_VALUE_DEPTH levels. What
 *   Strata wraps around a value is taken off first, as a read takes it off: the MAC wrapper
 *   `{"~mac", "~v"}` of a store whose encryption record says `integrity: 'mac'` (every space
 *   but that record's own, declarations included), and the
 *   `{ "$enc", "$eq" }` envelope of an encrypted lookup field its space declares. Encrypted
 *   values are ciphertext here, checked as the strings they are;
 * - documents of `c.<name>`: a JSON object whose key field (its declaration's, else `id`)
 *   holds its key (a string, or a number whose text is the key), as every read demands. A
 *   collection whose declaration is damaged is not checked for it: it restores, and is
 *   CORRUPT when used, until declared again (README).
 *
 * The meta records these rules depend on sort after the records they describe (`c.*` and
 * `kv.*` before `meta.*`), so each line gets a first look as it streams in (`line`): the key,
 * and the value against the rules alone, the document against `id`. Only a space where a
 * value failed that look (a signed value at the depth limit, a forgery), and a collection
 * declared with another key field, is read again from the rebuilt copy (`finish`) under its
 * meta records, before anything of the live store changes. The value is parsed once per line.
 */

/** Why a write would refuse this key, or null. */
export function recordKeyProblem(space: string, key: string): string | null {
  try {
    checkKey(key, `space ${space}`);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `{"~mac": "<key id>.<tag>", "~v": value}`: how integrity 'mac' stores a value that is not a document (record-codec.ts). */
function unwrapMac(parsed: unknown): unknown {
  if (!isPlainObject(parsed)) return parsed;
  const keys = Object.keys(parsed);
  return keys.length === 2 && keys[0] === '~mac' && keys[1] === '~v' && typeof parsed['~mac'] === 'string'
    ? parsed['~v']
    : parsed;
}

/** Replaces each lookup envelope `{ $enc, $eq }` at `paths` by its ciphertext string, as a read puts the value back there. */
function unwrapLookups(doc: Record<string, unknown>, paths: ReadonlyArray<readonly string[]>): void {
  for (const path of paths) {
    let parent: unknown = doc;
    for (const segment of path.slice(0, -1)) {
      parent = isPlainObject(parent) && Object.hasOwn(parent, segment) ? parent[segment] : undefined;
    }
    const last = path.at(-1)!;
    if (!isPlainObject(parent) || !Object.hasOwn(parent, last)) continue;
    const envelope = parent[last];
    if (isPlainObject(envelope) && typeof envelope.$enc === 'string') parent[last] = envelope.$enc;
  }
}

const quoted = (key: string): string => {
  const text = JSON.stringify(key);
  return text.length > 100 ? `${text.slice(0, 96)}..."` : text;
};

/** A stored value's text with its MAC wrapper taken off (a declaration, for its parser). */
function innerText(text: string, mac: boolean): string {
  if (!mac) return text;
  try {
    const parsed: unknown = parseJson(text);
    const inner = unwrapMac(parsed);
    return inner === parsed ? text : JSON.stringify(inner);
  } catch {
    return text; // its parser says why
  }
}

/**
 * What the rebuilt copy says about itself: whether it signs its records (then every value but
 * the encryption record's own is signed, declarations included), the lookup fields of each
 * space, the key field of each collection.
 */
async function rulesOf(driver: Driver, at: number) {
  let mac = false;
  try {
    mac = (await readCryptoState(driver, at))?.state.integrity === 'mac';
  } catch {
    // A damaged encryption record: no value is taken for wrapped (the rules then hold the whole text).
  }
  const lookups = new Map<string, Array<readonly string[]>>();
  for (const record of await driver.scan(ENCRYPTED_SPACE, {}, at)) {
    try {
      const paths = parseSpecText(record.key, innerText(record.value, mac))
        .fields.filter((f) => f.lookup)
        .map((f) => f.path);
      if (paths.length > 0) lookups.set(record.key, paths);
    } catch {
      // A damaged declaration: its envelopes are checked as they are.
    }
  }
  /** `null`: the declaration is damaged (see the file header). */
  const keyFields = new Map<string, string | null>();
  for (const record of await driver.scan(SPECS_SPACE, {}, at)) {
    try {
      keyFields.set(`c.${record.key}`, parseSpec(record.key, innerText(record.value, mac)).key);
    } catch {
      keyFields.set(`c.${record.key}`, null);
    }
  }
  return { mac, lookups, keyFields };
}

type Rules = Awaited<ReturnType<typeof rulesOf>>;

/** Whether a document's key field holds its key (a string, or a number whose text is the key), as every read demands. */
function holdsKey(doc: Record<string, unknown>, field: string, key: string): boolean {
  const held = Object.hasOwn(doc, field) ? doc[field] : undefined;
  return (typeof held === 'string' || typeof held === 'number') && String(held) === key;
}

/** Why no write stores this record under the copy's own rules, or null. */
function recordProblem(space: string, r: StoredRecord, rules: Rules): string | null {
  const what = `record ${quoted(r.key)} in ${space}`;
  let parsed: unknown;
  try {
    // Plain JSON.parse: a "__proto__" member stays a member, for the value check to refuse.
    parsed = JSON.parse(r.value);
  } catch {
    return `${what} holds a value that is not JSON text`;
  }
  const value = rules.mac && space !== CRYPTO_SPACE ? unwrapMac(parsed) : parsed;
  const collection = space.startsWith('c.');
  if (collection) {
    if (!isPlainObject(value)) return `document ${quoted(r.key)} in ${space} is not a JSON object`;
    const paths = rules.lookups.get(space);
    if (paths !== undefined) unwrapLookups(value, paths);
  }
  if (!isExactJson(value)) {
    try {
      encodeJson(value);
    } catch (error) {
      return `${what} holds a value no write stores (${(error as Error).message})`;
    }
  }
  if (!collection) return null;
  // What every read of a document demands (collection-docs.ts storedProblems).
  const field = rules.keyFields.has(space) ? rules.keyFields.get(space)! : 'id';
  if (field === null || holdsKey(value as Record<string, unknown>, field, r.key)) return null;
  const held = (value as Record<string, unknown>)[field];
  const shown = held === undefined ? 'nothing' : (JSON.stringify(held) ?? String(held)).slice(0, 100);
  return `document ${quoted(r.key)} in ${space} holds ${shown} in its key field "${field}", not its key`;
}

/** The checks of one records part (see the file header): `line` for each line, then `finish` on the rebuilt copy. */
export class RecordsCheck {
  /** Spaces to read again under the copy's own rules. */
  readonly #again = new Set<string>();
  /** The journal position the lines hold, as the writer computes `journalSeq` (undefined: no journal entry). */
  journalSeq: number | undefined;

  /** Why no write makes this record, whatever the copy's meta records say; null when none. */
  line(r: RawRecord): string | null {
    const key = recordKeyProblem(r.space, r.key);
    if (key !== null) return `it holds a key no write makes (${key})`;
    if (r.space === JOURNAL_SPACE) this.journalSeq = Math.max(this.journalSeq ?? 0, journalSeqOfKey(r.key) ?? 0);
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.value);
    } catch {
      return 'its value is not JSON text';
    }
    if (this.#again.has(r.space)) return null;
    const first = isExactJson(parsed) && (!r.space.startsWith('c.') || (isPlainObject(parsed) && holdsKey(parsed, 'id', r.key)));
    if (!first) this.#again.add(r.space);
    return null;
  }

  /** CORRUPT naming the first record no write stores, once the part is loaded into `driver`. */
  async finish(driver: Driver, manifest: BackupManifest): Promise<void> {
    const rules = await rulesOf(driver, manifest.at);
    const spaces = new Set(this.#again);
    for (const [space, field] of rules.keyFields) if (field !== null && field !== 'id') spaces.add(space);
    for (const space of [...spaces].sort()) {
      for (const r of await driver.scan(space, {}, manifest.at)) {
        const problem = recordProblem(space, r, rules);
        if (problem !== null) throw damagedBackup(manifest.id, problem);
      }
    }
  }
}
