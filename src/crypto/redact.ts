import { cutRefusal, refusalTrail } from '../codec/json.js';
import { bareMessage, StrataError } from '../errors.js';
import type { SpaceEncryption } from './spec.js';

/** A schema issue as collections report it: a dotted path in the document and what is wrong. */
interface Issue {
  path: string;
  message: string;
}

const HIDDEN_ISSUE = 'does not match the schema (not detailed: the field is encrypted)';
const SCHEMA_SUMMARY = 'does not match its schema: ';

/**
 * `error` without the property names of an encrypted value. A value refused before it is
 * encrypted (BAD_INPUT naming the bad part) names the path to it, and a schema failure
 * (VALIDATION_FAILED, written or read back) names each issue's path and says what is wrong;
 * below an encrypted field, or anywhere in a wholly encrypted value, those names are part of
 * the secret, and so is what a schema says about them (an unknown key is named in the message).
 */
export function hideEncrypted(error: unknown, spec: SpaceEncryption | undefined): unknown {
  if (spec === undefined || !(error instanceof StrataError)) return error;
  if (error.code === 'VALIDATION_FAILED') return hideSchemaIssues(error, spec);
  if (error.code !== 'BAD_INPUT') return error;
  const trail = refusalTrail(error);
  if (trail === undefined) return error;
  if (spec.whole) return cutRefusal(error, 0);
  for (const field of spec.fields) {
    if (field.path.length <= trail.length && field.path.every((segment, i) => trail[i] === segment)) {
      return cutRefusal(error, field.path.length);
    }
  }
  return error;
}

/** The encrypted field `path` (dotted) is at or below, if any; '' stands for a wholly encrypted value. */
function encryptedAt(path: string, spec: SpaceEncryption): string | undefined {
  if (spec.whole) return '';
  // Dotted text cannot tell `a.b` from a property named "a.b": that only hides more.
  return spec.fields.find((f) => path === f.name || path.startsWith(`${f.name}.`))?.name;
}

/**
 * Issues with every one at or below an encrypted field replaced by one per field, naming the
 * field only; the same array when none is.
 */
export function hideIssues<I extends Issue>(issues: readonly I[], spec: SpaceEncryption | undefined): I[] {
  if (spec === undefined || !issues.some((i) => encryptedAt(i.path, spec) !== undefined)) return issues as I[];
  const out: I[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const field = encryptedAt(issue.path, spec);
    if (field === undefined) out.push(issue);
    else if (!seen.has(field)) {
      seen.add(field);
      out.push({ ...issue, path: field, message: HIDDEN_ISSUE });
    }
  }
  return out;
}

/** Collections list issues as `path: message` joined by '; ' (collection-docs.ts). */
const summaryOf = (issues: readonly Issue[]): string =>
  issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');

function hideSchemaIssues(error: StrataError, spec: SpaceEncryption): StrataError {
  const details = error.details;
  const issues = details?.issues;
  if (!Array.isArray(issues)) return error;
  const hidden = hideIssues(issues as Issue[], spec);
  if (hidden === issues) return error;
  const text = bareMessage(error);
  const at = text.indexOf(SCHEMA_SUMMARY);
  // Without the usual shape, nothing of the old text is kept past the operation.
  const head = at < 0 ? `${error.op ?? 'collection'}: a document ${SCHEMA_SUMMARY}` : text.slice(0, at + SCHEMA_SUMMARY.length);
  return new StrataError('VALIDATION_FAILED', `${head}${summaryOf(hidden)}`, {
    op: error.op,
    driver: error.driver,
    hint: error.hint,
    details: { ...details, issues: hidden },
  });
}
