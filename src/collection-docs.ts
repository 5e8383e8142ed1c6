import type { StandardSchemaV1 } from '@standard-schema/spec';
import { StrataError } from './errors.js';
import { checkKey } from './codec/keys.js';
import { newId } from './codec/id.js';

/** How a collection turns user documents into stored ones and back. */
export interface DocRules {
  collection: string;
  schema: StandardSchemaV1 | undefined;
  keyField: string;
  timestamps: boolean;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function issuesOf(result: StandardSchemaV1.FailureResult): Array<{ path: string; message: string }> {
  return result.issues.map((issue) => ({
    path: (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.'),
    message: issue.message,
  }));
}

function outcome(rules: DocRules, result: StandardSchemaV1.Result<unknown>, op: string, stage: 'write' | 'read'): unknown {
  if (!result.issues) return result.value;
  const issues = issuesOf(result);
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  throw new StrataError('VALIDATION_FAILED', `${op}: document in "${rules.collection}" does not match its schema: ${summary}`, {
    op,
    hint:
      stage === 'read'
        ? 'the stored document predates the current schema: rewrite it with set() or delete() it, or relax the schema'
        : 'fix the document or the schema',
    details: { issues },
  });
}

/**
 * Runs the schema; VALIDATION_FAILED lists every issue with its path. Returns the value
 * itself when the schema is synchronous (as zod's are), so reading many documents does not
 * cost a microtask each; a promise only for asynchronous schemas.
 */
export function validateNow(rules: DocRules, doc: unknown, op: string, stage: 'write' | 'read'): unknown {
  if (rules.schema === undefined) return doc;
  const result = rules.schema['~standard'].validate(doc);
  if (result instanceof Promise) return result.then((r) => outcome(rules, r, op, stage));
  return outcome(rules, result, op, stage);
}

/** `validateNow`, always as a promise. */
export async function validate(rules: DocRules, doc: unknown, op: string, stage: 'write' | 'read'): Promise<unknown> {
  return validateNow(rules, doc, op, stage);
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

/**
 * Prepares a document for writing: fills a missing key with a sortable id (when allowed),
 * fills timestamps, validates. Returns the key and the validated document.
 */
export async function prepareDoc(
  rules: DocRules,
  input: unknown,
  op: string,
  context: { now: number; generateKey: boolean; key?: string; createdAt?: unknown },
): Promise<{ key: string; doc: Record<string, unknown> }> {
  if (!isPlainObject(input)) {
    throw new StrataError('BAD_INPUT', `${op}: a document must be a plain object`, { op });
  }
  const draft: Record<string, unknown> = { ...input };
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
  const doc = await validate(rules, draft, op, 'write');
  if (!isPlainObject(doc)) throw new StrataError('BAD_INPUT', `${op}: the schema must produce an object`, { op });
  if (keyOf(rules, doc[rules.keyField], op) !== key) {
    throw new StrataError('BAD_INPUT', `${op}: the schema changed the key field "${rules.keyField}"`, { op });
  }
  return { key, doc };
}
