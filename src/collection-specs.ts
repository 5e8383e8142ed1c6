import type { StandardSchemaV1 } from '@standard-schema/spec';
import { fieldSetText } from './crypto/spec.js';
import type { Driver } from './drivers/driver.js';
import type { CollectionOptions } from './collection-types.js';
import { checkDeclaration } from './collection-checks.js';
import { parseDuration } from './codec/duration.js';
import { parseJson } from './codec/json.js';
import { checkOptions } from './codec/options.js';
import { StrataError } from './errors.js';
import { sameQuota } from './layers/quota.js';
import { parsePath } from './query/parse.js';

/**
 * Where a store remembers how each collection was declared, so another process (the CLI,
 * export/import, a worker) opening it without options uses the same key field and indexes.
 * Spaces that start with neither `kv.` nor `c.` never appear in names() or stats().
 */
export const SPECS_SPACE = 'meta.collections';

/** What a store remembers of a collection's declaration (a schema is code: it cannot be stored). */
export interface CollectionSpec {
  /** The document field that holds the key. */
  key: string;
  /** Indexed dotted field paths, in declaration order. */
  indexes: string[];
  /** Whether `createdAt` / `updatedAt` are filled. */
  timestamps: boolean;
  /** Document time to live in ms, or `null` when documents never expire. */
  ttl: number | null;
}

export type AnyCollectionOptions = CollectionOptions<StandardSchemaV1 | undefined, string>;

/**
 * The options an object actually sets (`{ key: undefined }` sets nothing). Options that are
 * not an object (`null`, an array, a string) are BAD_INPUT here, as `store.kv` refuses them:
 * `null` read as "set" broke on its first property, and `[]` passed as "no options".
 */
export function setOptions(options: AnyCollectionOptions | undefined): AnyCollectionOptions | undefined {
  if (options === undefined) return undefined;
  // checkOptions throws for each of these (BAD_INPUT "options must be an object").
  if (options === null || typeof options !== 'object' || Array.isArray(options)) checkOptions(options, [], 'store.collection');
  const defined = Object.entries(options).filter(([, v]) => v !== undefined);
  return defined.length === 0 ? undefined : (Object.fromEntries(defined) as AnyCollectionOptions);
}

export function specOf(options: AnyCollectionOptions): CollectionSpec {
  return {
    key: options.key ?? 'id',
    indexes: [...(options.indexes ?? [])],
    timestamps: options.timestamps ?? false,
    ttl: options.ttl === undefined ? null : parseDuration(options.ttl, 'ttl'),
  };
}

/** Collection options that reproduce a remembered spec. */
export function optionsOf(spec: CollectionSpec): CollectionOptions<undefined, string> {
  const options: CollectionOptions<undefined, string> = { key: spec.key, indexes: spec.indexes, timestamps: spec.timestamps };
  if (spec.ttl !== null) options.ttl = spec.ttl;
  return options;
}

export function sameSpec(a: CollectionSpec, b: CollectionSpec): boolean {
  return (
    a.key === b.key &&
    a.timestamps === b.timestamps &&
    a.ttl === b.ttl &&
    a.indexes.length === b.indexes.length &&
    a.indexes.every((path, i) => path === b.indexes[i])
  );
}

/** An `encrypt` list compared as a set: `['b', 'a']` is `['a', 'b']`, and `'a'` is `{ path: 'a' }`. */
function encryptKey(encrypt: AnyCollectionOptions['encrypt']): string {
  if (!Array.isArray(encrypt)) return JSON.stringify(encrypt ?? []);
  return fieldSetText(
    encrypt.map((f: unknown) =>
      typeof f === 'object' && f !== null
        ? ([(f as { path?: unknown }).path, (f as { lookup?: unknown }).lookup === true] as const)
        : ([f, false] as const),
    ),
  );
}

/**
 * Refuses a second declaration of `name` in one process that differs from the first: two
 * handles with different key fields or schemas over the same documents would each be
 * silently wrong about half of them.
 */
export function checkRedeclare(name: string, first: AnyCollectionOptions, next: AnyCollectionOptions): void {
  const a = specOf(first);
  const b = specOf(next);
  const differs: string[] = [];
  if (first.schema !== next.schema) differs.push('schema');
  if (a.key !== b.key) differs.push('key');
  if (a.indexes.join('\u0000') !== b.indexes.join('\u0000')) differs.push('indexes');
  if (a.timestamps !== b.timestamps) differs.push('timestamps');
  if (a.ttl !== b.ttl) differs.push('ttl');
  if (encryptKey(first.encrypt) !== encryptKey(next.encrypt)) differs.push('encrypt');
  if (!sameQuota(first.quota, next.quota)) differs.push('quota');
  if (differs.length === 0) return;
  throw new StrataError(
    'BAD_INPUT',
    `collection "${name}" is already declared in this process with a different ${differs.join(', ')}`,
    {
      hint: 'declare each collection once (for example in one module) and reuse the handle, or call store.collection(name) without options',
      details: { collection: name, differs },
    },
  );
}

/**
 * The checks `store.collection(name, options)` makes of the options a spec remembers, the
 * Collection constructor's (src/collection.ts): option types, a key field that is a top-level
 * field path, index paths that are field paths (what SQL index expressions are built from),
 * a ttl that is a positive duration within the Date range. BAD_INPUT naming the part.
 *
 * A remembered spec (in the store, an export file, a restored backup) passes these before it
 * is used: one the live call refuses would make every later `store.collection(name)` throw.
 */
export function checkDeclared(name: string, options: AnyCollectionOptions): void {
  checkDeclaration(name, options);
  const key = options.key ?? 'id';
  parsePath(key);
  if (key.includes('.')) {
    throw new StrataError('BAD_INPUT', `collection "${name}": the key field must be a top-level field`, {
      op: 'store.collection',
      hint: 'name a field of the document itself, such as "id" or "sku", not a dotted path',
    });
  }
  for (const path of options.indexes ?? []) parsePath(path);
  if (options.ttl !== undefined) parseDuration(options.ttl, 'ttl');
}

const SPEC_FIELDS = ['key', 'indexes', 'timestamps', 'ttl'];

/**
 * Parses a remembered spec; anything that is not one is CORRUPT (it was written by Strata,
 * from a declaration `checkDeclared` accepted): exactly the four fields, of their types, and
 * values the live declaration accepts. `details.reason` says what is wrong.
 */
export function parseSpec(name: string, text: string): CollectionSpec {
  const corrupt = (reason: string, cause?: unknown): StrataError =>
    new StrataError('CORRUPT', `the remembered declaration of collection "${name}" is damaged: ${reason}`, {
      hint: `declare the collection with its options once (store.collection("${name}", { key, indexes })) to rewrite it`,
      cause,
      details: { space: SPECS_SPACE, key: name, reason },
    });
  let raw: unknown;
  try {
    raw = parseJson(text);
  } catch (cause) {
    throw corrupt('it is not JSON', cause);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw corrupt('it is not a JSON object');
  const r = raw as Record<string, unknown>;
  const fields = Object.keys(r);
  if (fields.length !== SPEC_FIELDS.length || !SPEC_FIELDS.every((f) => Object.hasOwn(r, f))) {
    throw corrupt(`it holds the fields ${fields.slice(0, 10).join(', ') || 'none'}, not exactly ${SPEC_FIELDS.join(', ')}`);
  }
  const typed =
    typeof r.key === 'string' &&
    Array.isArray(r.indexes) &&
    r.indexes.every((p) => typeof p === 'string') &&
    typeof r.timestamps === 'boolean' &&
    (r.ttl === null || typeof r.ttl === 'number');
  if (!typed) throw corrupt('key must be a string, indexes an array of strings, timestamps a boolean, ttl a number or null');
  const spec: CollectionSpec = {
    key: r.key as string,
    indexes: r.indexes as string[],
    timestamps: r.timestamps as boolean,
    ttl: r.ttl as number | null,
  };
  try {
    checkDeclared(name, optionsOf(spec));
  } catch (cause) {
    throw corrupt((cause as Error).message, cause);
  }
  return spec;
}

/** The remembered spec of one collection, or null. */
export async function readSpec(driver: Driver, name: string, now: number): Promise<CollectionSpec | null> {
  const record = await driver.get(SPECS_SPACE, name, now);
  return record === null ? null : parseSpec(name, record.value);
}

/** Every remembered spec; a damaged one maps to its CORRUPT error (thrown when that collection is used). */
export async function readAllSpecs(driver: Driver, now: number): Promise<Map<string, CollectionSpec | StrataError>> {
  const out = new Map<string, CollectionSpec | StrataError>();
  // A scan of a space nobody wrote is empty on every driver; spaces() would also check every
  // registry row, and a damaged one must not stop the store from opening for verify().
  for (const record of await driver.scan(SPECS_SPACE, {}, now)) {
    try {
      out.set(record.key, parseSpec(record.key, record.value));
    } catch (error) {
      out.set(record.key, error as StrataError);
    }
  }
  return out;
}

/** Stores `spec` for `name` unless the same one is already remembered. */
export async function writeSpec(driver: Driver, name: string, spec: CollectionSpec, now: number): Promise<void> {
  const record = await driver.get(SPECS_SPACE, name, now);
  if (record !== null) {
    try {
      if (sameSpec(parseSpec(name, record.value), spec)) return;
    } catch {
      // A damaged spec is replaced by the declaration at hand.
    }
  }
  await driver.ensureSpace(SPECS_SPACE, {});
  await driver.batch([{ type: 'put', space: SPECS_SPACE, key: name, value: JSON.stringify(spec), expiresAt: null }], now, {
    results: false,
  });
}

/** Removes what is remembered of `name` (after `collection.drop()`). */
export async function forgetSpec(driver: Driver, name: string, now: number): Promise<void> {
  if ((await driver.get(SPECS_SPACE, name, now)) === null) return;
  await driver.batch([{ type: 'delete', space: SPECS_SPACE, key: name }], now, { results: false });
}
