import { StrataError } from '../errors.js';
import { parseDuration, type Duration } from '../codec/duration.js';
import type { Sort } from '../collection-types.js';

function bad(message: string, hint?: string): StrataError {
  return new StrataError('BAD_INPUT', message, hint === undefined ? {} : { hint });
}

/** Parses a JSON command-line argument; BAD_INPUT that names the argument when malformed. */
export function parseJsonArg(text: string, what: string, hint?: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw bad(`${what} is not valid JSON: ${reason}`, hint ?? `quote it for the shell, e.g. '{"status":"failed"}'`);
  }
  const inexact = inexactInteger(text);
  if (inexact !== null) {
    const shown = inexact.length > 40 ? `${inexact.slice(0, 39)}…` : inexact;
    throw bad(
      `${what} has the integer ${shown}, which a JSON number cannot hold exactly (beyond 2^53 - 1): it would be stored changed`,
      `quote it to keep it exactly, as text: '"${shown}"'`,
    );
  }
  return value;
}

/**
 * The first integer literal of JSON `text` (outside strings) that a double cannot hold
 * exactly, else null: `JSON.parse` would silently store 12345678901234567890 as
 * 12345678901234567000. Numbers with a fraction or an exponent are floats by intent.
 */
function inexactInteger(text: string): string | null {
  const literal = /"(?:[^"\\]|\\.)*"|(-?\d+)(\.\d+)?([eE][+-]?\d+)?/g;
  for (let m = literal.exec(text); m !== null; m = literal.exec(text)) {
    const digits = m[1];
    if (digits === undefined || m[2] !== undefined || m[3] !== undefined) continue;
    if (!Number.isSafeInteger(Number(digits))) return digits;
  }
  return null;
}

/** A JSON object argument (a filter, a document, a patch). */
export function parseObjectArg(text: string, what: string): Record<string, unknown> {
  const value = parseJsonArg(text, what);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(`${what} must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * A value for `set`: JSON (`42`, `true`, `"text"`, `{"a":1}`); with `asString` the raw text.
 * Bare words are refused rather than guessed, so `set n k 0012` never silently changes type.
 */
export function parseValueArg(text: string, asString: boolean): unknown {
  if (asString) return text;
  return parseJsonArg(text, 'the value', `values are JSON: quote strings ('"dark"') or pass --string to store the text as is`);
}

/** A non-negative integer option (`--limit`, `--offset`, `--if-version`). */
export function intOption(name: string, { min = 0 } = {}): (text: string) => number {
  return (text) => {
    // Decimal digits only: Number() would also take 0x10, 1e3 and ' 5'.
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min) {
      throw bad(`${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
    }
    return n;
  };
}

/** `--ttl 10m`, `--ttl 500ms`, `--ttl 60000`. */
export function ttlOption(text: string): Duration {
  const value = /^\d+$/.test(text) ? Number(text) : text;
  parseDuration(value, '--ttl');
  return value as Duration;
}

const SORT_TERM = /^(-)?([^:\s]+)(?::(asc|desc|1|-1))?$/i;

/**
 * A sort with no prototype: on a plain `{}`, `out["__proto__"] = -1` would hit the prototype
 * setter and drop the field silently, where the query layer refuses it as a field path.
 */
const emptySort = (): Sort => Object.create(null) as Sort;

/**
 * `--sort '{"createdAt":-1}'`, `--sort createdAt:desc,repoName`, or `--sort -createdAt`.
 * Field paths are checked by the query layer.
 */
export function sortOption(text: string): Sort {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const value = parseObjectArg(trimmed, '--sort');
    const out = emptySort();
    for (const [field, dir] of Object.entries(value)) {
      if (dir !== 1 && dir !== -1 && dir !== 'asc' && dir !== 'desc') {
        throw bad(`--sort: direction for "${field}" must be 1, -1, "asc" or "desc"`);
      }
      out[field] = dir;
    }
    return out;
  }
  const out = emptySort();
  for (const term of trimmed.split(',')) {
    const match = SORT_TERM.exec(term.trim());
    if (match === null)
      throw bad(`--sort: cannot read ${JSON.stringify(term)}`, 'use field:asc, field:desc, -field or a JSON object');
    const dir = match[3]?.toLowerCase();
    out[match[2]!] = match[1] === '-' || dir === 'desc' || dir === '-1' ? -1 : 1;
  }
  return out;
}

/** `--fields id,status`: a column list. */
export function fieldsOption(text: string): string[] {
  const fields = text
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f.length > 0);
  if (fields.length === 0) throw bad('--fields needs at least one field name');
  return fields;
}
