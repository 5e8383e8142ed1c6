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
  const inexact = inexactNumber(text);
  if (inexact !== null) {
    const shown = inexact.length > 40 ? `${inexact.slice(0, 39)}…` : inexact;
    // Plain digits keep the message scripts know; another spelling also says what it would become.
    const plain = /^-?\d+$/.test(inexact);
    throw bad(
      plain
        ? `${what} has the integer ${shown}, which a JSON number cannot hold exactly (beyond 2^53 - 1): it would be stored changed`
        : `${what} has the number ${shown}, which a JSON number cannot hold exactly (beyond 2^53 - 1, to the units digit): it would be stored as ${JSON.stringify(Number(inexact))}`,
      `quote it to keep it exactly, as text: '"${shown}"'`,
    );
  }
  return value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * The first number literal of JSON `text` (outside strings) that spells out a value beyond
 * 2^53 - 1 down to its units digit, else null. Above 2^53 a double cannot hold every
 * integer, so `JSON.parse` would silently store 12345678901234567890 as
 * 12345678901234567000, and 9007199254740993 as 9007199254740992 however it is written:
 * `9007199254740993.0`, `9.007199254740993e15` and `90071992547409930e-1` too. A literal
 * whose last digit stands above the units (`1e21`, `1.5e300`) is a magnitude, a float by
 * intent, and is left alone; so are numbers within the safe range, fractions included.
 */
function inexactNumber(text: string): string | null {
  const literal = /"(?:[^"\\]|\\.)*"|-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?/g;
  for (let m = literal.exec(text); m !== null; m = literal.exec(text)) {
    if (m[1] === undefined) continue; // a string
    const fraction = m[2] ?? '';
    // The written digits, and the power of ten of the last one (0: the units digit).
    const digits = `${m[1]}${fraction}`.replace(/^0+/, '');
    const last = Number(m[3] ?? '0') - fraction.length;
    if (digits === '' || last > 0) continue;
    // Digits left of the decimal point once the exponent is applied: with 15 or fewer the
    // value is below 10^15, with 17 or more at least 10^16, and 2^53 - 1 has 16.
    const whole = digits.length + last;
    if (whole < 16) continue;
    if (whole > 16) return m[0];
    // Exactly 16: compare the integer part; equal to 2^53 - 1 with a fraction is beyond it too.
    const integer = BigInt(digits.slice(0, 16));
    if (integer > MAX_SAFE || (integer === MAX_SAFE && /[1-9]/.test(digits.slice(16)))) return m[0];
  }
  return null;
}

/** A JSON object argument (a filter, a document, a patch). */
export function parseObjectArg(text: string, what: string): Record<string, unknown> {
  const value = parseJsonArg(text, what);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(
      `${what} must be a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`,
      `write it as {...} and quote it for the shell, e.g. '{"status":"failed"}'`,
    );
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

/**
 * A non-negative integer option (`--limit`, `--offset`, `--if-version`, `--keep`,
 * `--gzip-level`...): decimal digits only, refused with the range it takes (at most 2^53 - 1,
 * the largest a JSON number holds exactly, when `max` is not given) and a hint with an example.
 */
export function intOption(
  name: string,
  { min = 0, max = Number.MAX_SAFE_INTEGER, example }: { min?: number; max?: number; example?: number } = {},
): (text: string) => number {
  const range = `from ${min} to ${max}`;
  const hint = `give a whole number ${range} in decimal digits, e.g. ${name} ${example ?? Math.min(Math.max(min, 10), max)}`;
  return (text) => {
    // Decimal digits only: Number() would also take 0x10, 1e3 and ' 5'.
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw bad(`${name} must be a whole number ${range}, got ${JSON.stringify(text)}`, hint);
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
        throw bad(
          `--sort: direction for "${field}" must be 1, -1, "asc" or "desc"`,
          `use 1 or "asc" (ascending), -1 or "desc" (descending), e.g. --sort '{"createdAt":-1}'`,
        );
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
  if (fields.length === 0)
    throw bad('--fields needs at least one field name', 'name the columns, comma-separated, e.g. --fields id,status');
  return fields;
}
