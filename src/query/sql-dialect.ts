import { StrataError } from '../errors.js';
import type { JsonScalar, Path } from './ast.js';

/**
 * What is backend-specific in the SQL compiler (query/sql.ts): how a field is extracted, how
 * its JSON type is tested, how the elements of an array are listed, how parameters are
 * written and bound. The structure (and/or, in/nin, negation, paths through arrays, keyset
 * pagination, prefix ranges) is shared, so a PostgreSQL dialect can sit beside the SQLite one.
 */

/** The JSON kinds a filter tests a field for. */
export type JsonKind = 'string' | 'number' | 'true' | 'false' | 'object' | 'array';

/**
 * Where a value sits. `{ path }`: a field of the row's document, written as a literal path
 * so that index expressions match it. `{ doc, at }`: a JSON path given as a SQL expression
 * (built from an array element's position) into a document given as a SQL expression; only
 * inside the subqueries `elements` opens.
 */
export type Loc = { path: Path } | { doc: string; at: string };

export interface SqlDialect {
  /** The field's value as a native scalar. Must be textually identical to index expressions. */
  field(path: Path): string;
  /** True when the field holds a JSON value of the kind; may be NULL when the field is missing. */
  kindIs(path: Path, kind: JsonKind): string;
  /** True when the field is present (a stored `null` counts); never NULL. */
  present(path: Path): string;
  /** Ordered comparison of a field with a placeholder, true only for fields of `kind`. */
  compare(path: Path, sign: '>' | '>=' | '<' | '<=', placeholder: string, kind: 'number' | 'string'): string;
  /** Appends a parameter and returns its placeholder. */
  param(params: unknown[], value: JsonScalar): string;

  /** `field`, `kindIs` and `present` at any location. */
  fieldAt(loc: Loc): string;
  kindAt(loc: Loc, kind: JsonKind | 'null'): string;
  presentAt(loc: Loc): string;
  /** Number of elements when the value at `loc` is an array. */
  arrayLengthAt(loc: Loc): string;
  /** The location `segments` further down from `loc`. */
  child(loc: Loc, segments: Path): Loc;
  /**
   * True when the value at `loc` is an array with an element for which `condition` holds.
   * `condition(element, at)` gets the name of a row with the element's `type` (as
   * `elementKind` tests) and `atom` (its scalar value), and the element's own location.
   */
  elements(loc: Loc, alias: string, condition: (element: string, at: Loc) => string): string;
  /** True when the element row `element` holds a JSON value of the kind. */
  elementKind(element: string, kind: JsonKind | 'null'): string;
  /** The element row's scalar value, compared like `field`. */
  elementAtom(element: string): string;
  /**
   * Whether the index range of an ordered comparison (`range`) also holds every row whose
   * field is an array, so that one range can serve the comparison with its element matches.
   */
  rangeHoldsArrays(sign: '>' | '>=' | '<' | '<=', kind: 'number' | 'string', value: string | number): boolean;
  /** `compare` without its kind test, as a range on the field that `rangeHoldsArrays` describes. */
  range(path: Path, sign: '>' | '>=' | '<' | '<=', placeholder: string, kind: 'number' | 'string'): string;
  /**
   * A condition that holds for every row whose `field` is an array (and may hold for a few
   * others): lets an index on the field narrow the rows worth listing elements of.
   */
  mayBeArray(path: Path): string;
}

const SEGMENT = /^[A-Za-z0-9_$-]+$/;

function jsonPathText(path: Path): string {
  let out = '$';
  for (const segment of path) {
    if (!SEGMENT.test(segment)) {
      throw new StrataError('BAD_INPUT', `field path segment ${JSON.stringify(segment)} is not well-formed`);
    }
    out += `."${segment}"`;
  }
  return out;
}

/** `$."a"."b"` as a quoted SQL string literal; segments are re-verified since DDL cannot bind them. */
export function sqliteJsonPath(path: Path): string {
  if (path.length === 0) throw new StrataError('BAD_INPUT', 'an empty field path cannot be queried');
  return `'${jsonPathText(path)}'`;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/**
 * A number as SQLite must see it to agree with JS. SQLite parses a JSON integer such as
 * `1152921504606847000` (how JS prints 2^60) as that exact int64, while JS holds the nearest
 * double; binding the same digits as a BigInt makes both sides compare equal.
 */
export function sqliteNumber(value: number): number | bigint {
  if (Number.isSafeInteger(value) || !Number.isInteger(value)) return value;
  const text = String(value);
  if (text.includes('e')) return value;
  const big = BigInt(text);
  return big <= INT64_MAX && big >= INT64_MIN ? big : value;
}

/** `json_type` names per kind; json_each's `type` column uses the same names. */
function typeTest(type: string, kind: JsonKind | 'null'): string {
  switch (kind) {
    case 'number':
      return `${type} IN ('integer','real')`;
    case 'string':
      return `${type} = 'text'`;
    default:
      return `${type} = '${kind}'`;
  }
}

/** `(doc, json path)` as SQL for the json1 functions. */
function target(loc: Loc): string {
  return 'path' in loc ? `value, ${sqliteJsonPath(loc.path)}` : `${loc.doc}, ${loc.at}`;
}

/**
 * SQLite: `json_extract`/`json_type` over the `value` column; booleans extract as 1/0.
 * Arrays are listed with `json_each`, whose rows have an integer `key` only for array
 * elements (an object's members have text keys, a scalar gives one row with a NULL key).
 * Inside its subquery the bare name `value` means json_each's own column, so the row's
 * document is first lifted into the subquery under another name.
 */
export const sqliteDialect: SqlDialect = {
  field: (path) => `json_extract(value, ${sqliteJsonPath(path)})`,
  kindIs: (path, kind) => typeTest(`json_type(value, ${sqliteJsonPath(path)})`, kind),
  present: (path) => `json_type(value, ${sqliteJsonPath(path)}) IS NOT NULL`,
  compare(path, sign, placeholder, kind) {
    const field = sqliteDialect.field(path);
    // SQLite orders numbers before all text, so '' bounds the other side of an open range:
    // the index scan then stops at the right type. Without statistics SQLite guesses that an
    // open range keeps a quarter of the rows and would rather walk the primary key;
    // likelihood() states that ranges are selective, so a declared index gets used.
    let sql = `likelihood(${field} ${sign} ${placeholder}, 0.05)`;
    if (kind === 'number' && sign[0] === '>') sql += ` AND ${field} < ''`;
    if (kind === 'string' && sign[0] === '<') sql += ` AND ${field} >= ''`;
    return `(${sql} AND ${sqliteDialect.kindIs(path, kind)})`;
  },
  param(params, value) {
    params.push(typeof value === 'boolean' ? (value ? 1 : 0) : typeof value === 'number' ? sqliteNumber(value) : value);
    return '?';
  },

  fieldAt: (loc) => ('path' in loc ? sqliteDialect.field(loc.path) : `json_extract(${target(loc)})`),
  kindAt: (loc, kind) => typeTest(`json_type(${target(loc)})`, kind),
  presentAt: (loc) => `json_type(${target(loc)}) IS NOT NULL`,
  arrayLengthAt: (loc) => `json_array_length(${target(loc)})`,
  child(loc, segments) {
    if ('path' in loc) return { path: [...loc.path, ...segments] };
    return { doc: loc.doc, at: `${loc.at} || '${jsonPathText(segments).slice(1)}'` };
  },
  elements(loc, alias, condition) {
    const doc = 'path' in loc ? `${alias}_doc.d` : loc.doc;
    const from =
      'path' in loc
        ? `(SELECT value AS d) AS ${alias}_doc, json_each(${doc}, ${sqliteJsonPath(loc.path)}) AS ${alias}`
        : `json_each(${target(loc)}) AS ${alias}`;
    const inner = condition(alias, { doc, at: `${alias}.fullkey` });
    return `EXISTS (SELECT 1 FROM ${from} WHERE typeof(${alias}.key) = 'integer' AND ${inner})`;
  },
  elementKind: (element, kind) => typeTest(`${element}.type`, kind),
  elementAtom: (element) => `${element}.atom`,
  // Arrays extract as text in ['[', '\\'), after every number.
  rangeHoldsArrays: (sign, kind, value) =>
    kind === 'number' ? sign[0] === '>' : sign[0] === '>' ? (value as string) < '[' : (value as string) >= '\\',
  range(path, sign, placeholder, kind) {
    const field = sqliteDialect.field(path);
    const range = `likelihood(${field} ${sign} ${placeholder}, 0.05)`;
    if (kind === 'number') return sign[0] === '>' ? `${range} AND ${field} < '\\'` : range;
    return sign[0] === '<' ? `${range} AND ${field} >= ''` : range;
  },
  // An array extracts as its JSON text, which starts with '[': one index range ('\' follows
  // '['). BETWEEN extracts the field once per row where two comparisons extract it twice
  // (a scan over an unindexed field measured 25% faster).
  mayBeArray: (path) => `(${sqliteDialect.field(path)} BETWEEN '[' AND '\\')`,
};
