import type { StandardSchemaV1 } from '@standard-schema/spec';
import { StrataError } from './errors.js';
import { checkKey } from './codec/keys.js';
import { newId } from './codec/id.js';
import { parseJson } from './codec/json.js';
import type { StoredRecord } from './drivers/driver.js';

/** How a collection turns user documents into stored ones and back. */
export interface DocRules {
  collection: string;
  schema: StandardSchemaV1 | undefined;
  keyField: string;
  timestamps: boolean;
}

/** One schema problem: the dotted path inside the document ('' for the whole document) and what is wrong. */
export interface SchemaIssue {
  path: string;
  message: string;
}

/** A value now, or a promise of it when an asynchronous schema is involved. */
export type MaybePromise<T> = T | Promise<T>;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `then` only when `value` is a promise: synchronous schemas (zod's) cost no microtask. */
export function andThen<T, R>(value: MaybePromise<T>, fn: (value: T) => R | Promise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

function issuesOf(result: StandardSchemaV1.FailureResult): SchemaIssue[] {
  return result.issues.map((issue) => ({
    path: (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.'),
    message: issue.message,
  }));
}

/** Where a document being validated comes from: a write, or a stored document read back (under `read`, its key). */
export type Stage = 'write' | 'read' | { read: string };

function outcome(rules: DocRules, result: StandardSchemaV1.Result<unknown>, op: string, stage: Stage): unknown {
  if (!result.issues) return result.value;
  const issues = issuesOf(result);
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  if (stage === 'write') {
    throw new StrataError('VALIDATION_FAILED', `${op}: document in "${rules.collection}" does not match its schema: ${summary}`, {
      op,
      hint: 'fix the document or the schema',
      details: { collection: rules.collection, issues },
    });
  }
  const key = stage === 'read' ? undefined : stage.read;
  throw new StrataError(
    'VALIDATION_FAILED',
    `${op}: stored document ${key === undefined ? '' : `"${key}" `}in "${rules.collection}" does not match its schema: ${summary}`,
    {
      op,
      hint:
        'it was written before the current schema or by another program; collection.verify() lists every such document: ' +
        'replace each with collection.set(key, doc) or remove it with collection.delete(key)',
      details: key === undefined ? { collection: rules.collection, issues } : { collection: rules.collection, key, issues },
    },
  );
}

/**
 * Runs the schema; VALIDATION_FAILED lists every issue with its path (and, for stored
 * documents, names the key). Returns the value itself when the schema is synchronous (as
 * zod's are), so reading many documents does not cost a microtask each; a promise only for
 * asynchronous schemas.
 */
export function validateNow(rules: DocRules, doc: unknown, op: string, stage: Stage): unknown {
  if (rules.schema === undefined) return doc;
  const result = rules.schema['~standard'].validate(doc);
  if (result instanceof Promise) return result.then((r) => outcome(rules, r, op, stage));
  return outcome(rules, result, op, stage);
}

/** `validateNow`, always as a promise. */
export async function validate(rules: DocRules, doc: unknown, op: string, stage: Stage): Promise<unknown> {
  return validateNow(rules, doc, op, stage);
}

/** The schema's verdict on a stored document without throwing: its issues, or `null` when it passes. */
export function schemaIssues(rules: DocRules, doc: unknown): MaybePromise<SchemaIssue[] | null> {
  if (rules.schema === undefined) return null;
  return andThen(rules.schema['~standard'].validate(doc), (r) => (r.issues ? issuesOf(r) : null));
}

/** The storage key of a document's key field value (strings, or finite numbers as text). */
export function keyOf(rules: DocRules, value: unknown, op: string): string {
  const key = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof key !== 'string') {
    throw new StrataError('BAD_INPUT', `${op}: key field "${rules.keyField}" must be a string or a number`, { op });
  }
  checkKey(key, op);
  return key;
}

export interface Prepared {
  key: string;
  /** The document to store: the schema's output when there is a schema. */
  doc: Record<string, unknown>;
}

/**
 * Prepares a document for writing: fills a missing key with a sortable id (when allowed),
 * fills timestamps, validates. Returns the key and the validated document; a promise only
 * when the schema is asynchronous.
 */
export function prepareDoc(
  rules: DocRules,
  input: unknown,
  op: string,
  context: { now: number; generateKey: boolean; key?: string; createdAt?: unknown },
): MaybePromise<Prepared> {
  if (!isPlainObject(input)) {
    throw new StrataError('BAD_INPUT', `${op}: a document must be a plain object`, { op });
  }
  // Without timestamps, a document that carries its key needs nothing filled in: it is
  // validated (schemas do not mutate their input) or stored as given, with no copy
  // (upsertMany of 20k documents spent a tenth of its time collecting the copies).
  const asIs = !rules.timestamps && input[rules.keyField] !== undefined;
  const draft: Record<string, unknown> = asIs ? input : { ...input };
  if (draft[rules.keyField] === undefined) {
    if (context.key !== undefined) draft[rules.keyField] = context.key;
    else if (context.generateKey) draft[rules.keyField] = newId();
    else throw new StrataError('BAD_INPUT', `${op}: the document has no "${rules.keyField}"`, { op });
  }
  const key = keyOf(rules, draft[rules.keyField], op);
  if (context.key !== undefined && key !== context.key) {
    throw new StrataError('BAD_INPUT', `${op}: document key "${key}" differs from "${context.key}"`, {
      op,
      hint: 'a key cannot be changed; insert a new document and delete the old one',
    });
  }
  if (rules.timestamps) {
    const at = new Date(context.now);
    draft.createdAt = context.createdAt ?? draft.createdAt ?? at;
    draft.updatedAt = at;
  }
  if (rules.schema === undefined) return { key, doc: draft };
  return andThen(validateNow(rules, draft, op, 'write'), (doc) => {
    if (!isPlainObject(doc)) throw new StrataError('BAD_INPUT', `${op}: the schema must produce an object`, { op });
    if (doc[rules.keyField] !== draft[rules.keyField] && keyOf(rules, doc[rules.keyField], op) !== key) {
      throw new StrataError('BAD_INPUT', `${op}: the schema changed the key field "${rules.keyField}"`, { op });
    }
    return { key, doc };
  });
}

/**
 * True when `JSON.parse(JSON.stringify(value))` would give back an equal value: only plain
 * objects and arrays, strings, booleans, null and finite numbers other than -0, no
 * `undefined` anywhere (dropped by JSON) and no holes. Lets a write return the document it
 * was given instead of parsing the text it just wrote; Dates and other `toJSON` values make
 * it false, and the stored text is parsed as a read would.
 */
export function jsonExact(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  // Deep documents are rare; past this the parse is as cheap as the walk.
  if (depth > 32) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !jsonExact(value[i], depth + 1)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) {
    if (!jsonExact((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

/**
 * What a read would refuse in a stored document: not valid JSON, not an object, a key field
 * that disagrees with its key, or the schema's issues; `null` when it is fine.
 */
export function storedProblems(rules: DocRules, record: StoredRecord): MaybePromise<SchemaIssue[] | null> {
  let doc: unknown;
  try {
    doc = parseJson(record.value);
  } catch {
    return [{ path: '', message: 'the stored value is not valid JSON' }];
  }
  if (!isPlainObject(doc)) return [{ path: '', message: 'the stored value is not a JSON object' }];
  const field = rules.keyField;
  const stored = doc[field];
  const matchesKey = (typeof stored === 'string' || typeof stored === 'number') && String(stored) === record.key;
  const keyIssue: SchemaIssue[] = matchesKey
    ? []
    : [{ path: field, message: `the key field holds ${JSON.stringify(stored) ?? 'nothing'}, not the document's key` }];
  return andThen(schemaIssues(rules, doc), (issues) => {
    const all = [...keyIssue, ...(issues ?? [])];
    return all.length === 0 ? null : all;
  });
}
