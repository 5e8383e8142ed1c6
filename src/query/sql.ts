import { StrataError } from '../errors.js';
import type { Filter, JsonScalar, JsonValue, Path, SortSpec } from './ast.js';

/**
 * Compiles the filter language (query/ast.ts) into SQL over a JSON text column, with the
 * exact semantics of query/match.ts. What is backend-specific (how a field is extracted, how
 * its JSON type is tested, how parameters are written and bound) sits in a `SqlDialect`; the
 * structure (and/or, in/nin, negation, keyset pagination, prefix ranges) is shared, so a
 * PostgreSQL dialect can sit beside the SQLite one.
 */

/** A SQL fragment and its positional parameters, in order of appearance. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * A compiled filter. `exact: false` means `sql` selects a superset of the matching rows
 * (object/array equality cannot be compiled exactly): the caller must post-filter the rows
 * with `matches()` and then apply offset and limit itself.
 */
export interface CompiledFilter extends SqlFragment {
  exact: boolean;
}

/** The JSON kinds a filter tests a field for. */
export type JsonKind = 'string' | 'number' | 'true' | 'false' | 'object' | 'array';

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
}

const SEGMENT = /^[A-Za-z0-9_$-]+$/;

/** `$."a"."b"` as a quoted SQL string literal; segments are re-verified since DDL cannot bind them. */
export function sqliteJsonPath(path: Path): string {
  if (path.length === 0) throw new StrataError('BAD_INPUT', 'an empty field path cannot be queried');
  let out = "'$";
  for (const segment of path) {
    if (!SEGMENT.test(segment)) {
      throw new StrataError('BAD_INPUT', `field path segment ${JSON.stringify(segment)} is not well-formed`);
    }
    out += `."${segment}"`;
  }
  return `${out}'`;
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

/** SQLite: `json_extract`/`json_type` over the `value` column. Booleans extract as 1/0. */
export const sqliteDialect: SqlDialect = {
  field: (path) => `json_extract(value, ${sqliteJsonPath(path)})`,
  kindIs(path, kind) {
    const type = `json_type(value, ${sqliteJsonPath(path)})`;
    switch (kind) {
      case 'number':
        return `${type} IN ('integer','real')`;
      case 'string':
        return `${type} = 'text'`;
      default:
        return `${type} = '${kind}'`;
    }
  },
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
};

/** Above this many values of one kind, `$in` binds one JSON array instead of a placeholder each. */
const MAX_INLINE_IN = 64;

function kindOf(value: JsonValue): JsonKind | 'null' {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'string';
  return Array.isArray(value) ? 'array' : 'object';
}

/**
 * Whether an equality on extracted values also needs a JSON type test. Extraction yields
 * numbers for numbers, 1/0 for booleans and text for strings, objects and arrays, and SQL
 * never finds a number equal to text. So a number other than 0 and 1 can only equal a
 * number, and a string that does not start with `{` or `[` can only equal a string. Skipping
 * the test matters: it parses the document a second time.
 */
function needsKindGuard(kind: JsonKind, values: ReadonlyArray<string | number>): boolean {
  if (kind === 'number') return values.some((v) => v === 0 || v === 1);
  return values.some((v) => typeof v === 'string' && (v.startsWith('{') || v.startsWith('[')));
}

class Compiler {
  readonly params: unknown[] = [];
  exact = true;
  constructor(readonly d: SqlDialect) {}

  /**
   * SQL that is true exactly when the field equals one of `values` (as match.ts `equals`),
   * or a superset (with `exact = false`) when some value is an object or array. NULL (for
   * a missing field) always means false here, so callers negate with `NOT COALESCE(x, 0)`.
   */
  equalsAny(path: Path, values: readonly JsonValue[]): { sql: string; exact: boolean } {
    const field = this.d.field(path);
    const byKind = new Map<JsonKind | 'null', JsonValue[]>();
    for (const value of values) {
      const kind = kindOf(value);
      const list = byKind.get(kind);
      if (list) list.push(value);
      else byKind.set(kind, [value]);
    }
    const terms: string[] = [];
    let exact = true;
    for (const [kind, list] of byKind) {
      if (kind === 'null') terms.push(`${field} IS NULL`);
      else if (kind === 'true' || kind === 'false') {
        // The equality on the extracted 1/0 lets an index on the field serve the lookup.
        terms.push(`(${field} = ${kind === 'true' ? 1 : 0} AND ${this.d.kindIs(path, kind)})`);
      } else if (kind === 'object' || kind === 'array') {
        exact = false;
        terms.push(this.d.kindIs(path, kind));
      } else {
        const unique = [...new Set(list as Array<string | number>)];
        let test: string;
        if (unique.length === 1) test = `${field} = ${this.d.param(this.params, unique[0]!)}`;
        else if (unique.length <= MAX_INLINE_IN) {
          test = `${field} IN (${unique.map((v) => this.d.param(this.params, v)).join(', ')})`;
        } else {
          test = `${field} IN (SELECT value FROM json_each(${this.d.param(this.params, JSON.stringify(unique))}))`;
        }
        terms.push(needsKindGuard(kind, unique) ? `(${test} AND ${this.d.kindIs(path, kind)})` : test);
      }
    }
    if (terms.length === 0) return { sql: '0', exact: true };
    return { sql: terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`, exact };
  }

  /** NOT of `equalsAny`, over only the values it can test exactly: a superset when some cannot. */
  equalsNone(path: Path, values: readonly JsonValue[]): string {
    const scalars = values.filter((v) => v === null || typeof v !== 'object');
    if (scalars.length < values.length) this.exact = false;
    if (scalars.length === 0) return '1';
    if (scalars.length === 1 && scalars[0] === null) return `${this.d.field(path)} IS NOT NULL`;
    return `NOT COALESCE(${this.equalsAny(path, scalars).sql}, 0)`;
  }

  compile(filter: Filter): string {
    switch (filter.op) {
      case 'all':
        return '1';
      case 'and':
      case 'or': {
        if (filter.filters.length === 0) return filter.op === 'and' ? '1' : '0';
        const parts = filter.filters.map((f) => this.compile(f));
        return parts.length === 1 ? parts[0]! : `(${parts.join(filter.op === 'and' ? ' AND ' : ' OR ')})`;
      }
      case 'eq':
      case 'in': {
        const result = this.equalsAny(filter.path, filter.op === 'eq' ? [filter.value] : filter.values);
        if (!result.exact) this.exact = false;
        return result.sql;
      }
      case 'ne':
        return this.equalsNone(filter.path, [filter.value]);
      case 'nin':
        return this.equalsNone(filter.path, filter.values);
      case 'exists':
        return filter.value ? this.d.present(filter.path) : `NOT ${this.d.present(filter.path)}`;
      case 'prefix': {
        const isText = this.d.kindIs(filter.path, 'string');
        if (filter.value === '') return isText;
        const field = this.d.field(filter.path);
        let sql = `${field} >= ${this.d.param(this.params, filter.value)}`;
        const upper = prefixUpperBound(filter.value);
        if (upper !== null) sql += ` AND ${field} < ${this.d.param(this.params, upper)}`;
        return `(${sql} AND ${isText})`;
      }
      default: {
        const sign = ({ gt: '>', gte: '>=', lt: '<', lte: '<=' } as const)[filter.op];
        const kind = typeof filter.value === 'number' ? 'number' : 'string';
        return this.d.compare(filter.path, sign, this.d.param(this.params, filter.value), kind);
      }
    }
  }
}

/** Compiles a filter to a WHERE condition (`'1'` for match-all). */
export function compileFilter(filter: Filter | undefined, dialect: SqlDialect = sqliteDialect): CompiledFilter {
  const compiler = new Compiler(dialect);
  const sql = filter === undefined ? '1' : compiler.compile(filter);
  return { sql, params: compiler.params, exact: compiler.exact };
}

/**
 * The least string greater than every string that starts with `prefix`, in code-point
 * (= UTF-8 byte) order, or `null` when there is none. `s` starts with `prefix` exactly when
 * `prefix <= s < upper`, so a range scan on an index can serve a prefix query.
 */
export function prefixUpperBound(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    let last = points.pop()!;
    if (last < 0x10ffff) {
      last += 1;
      if (last >= 0xd800 && last <= 0xdfff) last = 0xe000;
      return String.fromCodePoint(...points, last);
    }
  }
  return null;
}

/** `ORDER BY` terms for a sort: each field in its direction, then the key ascending. */
export function compileOrder(sort: readonly SortSpec[], keyColumn: string, dialect: SqlDialect = sqliteDialect): string {
  const terms = sort.map((s) => `${dialect.field(s.path)} ${s.dir === 1 ? 'ASC' : 'DESC'}`);
  terms.push(`${keyColumn} ASC`);
  return terms.join(', ');
}
