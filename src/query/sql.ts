import type { Filter, JsonValue, Path, SortSpec } from './ast.js';
import { sqliteDialect, type JsonKind, type Loc, type SqlDialect } from './sql-dialect.js';

export { sqliteDialect, sqliteJsonPath, sqliteNumber } from './sql-dialect.js';
export type { JsonKind, Loc, SqlDialect } from './sql-dialect.js';

/**
 * Compiles the filter language (query/ast.ts) into SQL over a JSON text column, with the
 * exact semantics of query/match.ts, arrays included. What is backend-specific sits in a
 * `SqlDialect` (query/sql-dialect.ts).
 */

/** A SQL fragment and its positional parameters, in order of appearance. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * A compiled filter. `exact: false` means `sql` selects a superset of the matching rows
 * (object/array equality, and paths of more than `MAX_TRAVERSED_SEGMENTS` segments, are not
 * compiled exactly): the caller must post-filter the rows with `matches()` and then apply
 * offset and limit itself.
 */
export interface CompiledFilter extends SqlFragment {
  exact: boolean;
}

/** Placeholders and SQL text a compiled filter may use before it falls back to `matches()`. */
const MAX_PARAMS = 16_000;
const MAX_SQL_LENGTH = 1_000_000;

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

/**
 * A path through arrays compiles to one alternative per position of the first array on the
 * way (2^(n-1) of them for n segments). Longer paths select every row and leave the answer
 * to `matches()`; filters on them are rare and the SQL would grow too fast.
 */
export const MAX_TRAVERSED_SEGMENTS = 4;

type Kind = JsonKind | 'null';

/** Values by kind, scalars without duplicates. */
function byKind(values: readonly JsonValue[]): Map<Kind, JsonValue[]> {
  const groups = new Map<Kind, JsonValue[]>();
  // The scalars seen so far (1 and '1' stay apart): `$in` may list 100k values, and an
  // `includes` per value would be quadratic.
  const seen = new Set<JsonValue>();
  for (const value of values) {
    const kind = kindOf(value);
    const scalar = kind !== 'object' && kind !== 'array';
    if (scalar && seen.has(value)) continue;
    if (scalar) seen.add(value);
    const list = groups.get(kind);
    if (list === undefined) groups.set(kind, [value]);
    else list.push(value);
  }
  return groups;
}

const or = (terms: readonly string[]): string =>
  terms.length === 0 ? '0' : terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;

/**
 * `(a AND b AND c ...)` nested as a balanced tree: SQLite parses a flat chain into a tree
 * as deep as it is long and refuses one deeper than 1,000.
 */
function balanced(parts: readonly string[], joiner: string): string {
  if (parts.length === 1) return parts[0]!;
  if (parts.length <= 8) return `(${parts.join(joiner)})`;
  const groups: string[] = [];
  const size = Math.ceil(parts.length / 8);
  for (let i = 0; i < parts.length; i += size) groups.push(balanced(parts.slice(i, i + size), joiner));
  return balanced(groups, joiner);
}

class Compiler {
  readonly params: unknown[] = [];
  exact = true;
  /** Inside a negation: where SQL cannot be exact, select a subset, so that NOT of it is a superset. */
  #negated = false;
  #aliases = 0;
  constructor(
    readonly d: SqlDialect,
    readonly arrayFree: (path: Path) => boolean,
  ) {}

  /** A literal location whose path (and every prefix of it) is known to hold no array. */
  #noArrays(loc: Loc): boolean {
    return 'path' in loc && this.arrayFree(loc.path);
  }

  /** A piece SQL cannot decide exactly: `superset` (or nothing, under a negation) and a re-check in JS. */
  #inexact(superset: string): string {
    this.exact = false;
    return this.#negated ? '0' : superset;
  }

  #not(build: () => string): string {
    this.#negated = !this.#negated;
    try {
      return `NOT COALESCE(${build()}, 0)`;
    } finally {
      this.#negated = !this.#negated;
    }
  }

  /** True when `test` holds at one of the locations `path` reaches (match.ts `resolvePath`). */
  #reach(path: Path, test: (loc: Loc) => string): string {
    return this.#walk(null, path, test);
  }

  #walk(base: Loc | null, segments: Path, test: (loc: Loc) => string): string {
    const direct: Loc = base === null ? { path: segments } : this.d.child(base, segments);
    const first = test(direct);
    if (segments.length === 1 || this.#noArrays(direct)) return first;
    // The first array on the way is after segment k: list its elements, go on from each.
    const branches: string[] = [];
    for (let k = 1; k < segments.length; k++) {
      const head = segments.slice(0, k);
      const array: Loc = base === null ? { path: head } : this.d.child(base, head);
      const rest = segments.slice(k);
      branches.push(this.d.elements(array, `e${++this.#aliases}`, (_row, at) => this.#walk(at, rest, test)));
    }
    // With an array on the way the direct field extracts as NULL: an index on it narrows the rows.
    const through = base === null ? `(${this.d.fieldAt(direct)} IS NULL AND ${or(branches)})` : or(branches);
    return `(${first} OR ${through})`;
  }

  /** `self` holds for the value at `loc`, or `element` for an element of it when it is an array. */
  #selfOrElement(loc: Loc, self: () => string, element: (row: string) => string): string {
    const own = self();
    if (this.#noArrays(loc)) return own;
    const alias = `e${++this.#aliases}`;
    const elements = this.d.elements(loc, alias, (row) => element(row));
    const guarded = 'path' in loc ? `(${this.d.mayBeArray(loc.path)} AND ${elements})` : elements;
    return `(${own} OR ${guarded})`;
  }

  /** `field IN (values)` for values of one scalar kind; `field` is an extracted value or an element atom. */
  #inList(field: string, values: ReadonlyArray<string | number>): string {
    if (values.length === 1) return `${field} = ${this.d.param(this.params, values[0]!)}`;
    if (values.length <= MAX_INLINE_IN) return `${field} IN (${values.map((v) => this.d.param(this.params, v)).join(', ')})`;
    return `${field} IN (SELECT value FROM json_each(${this.d.param(this.params, JSON.stringify(values))}))`;
  }

  /** The value at `loc` equals one of the grouped values (null: is a JSON null, or missing when `nullIsMissing`). */
  #valueEquals(loc: Loc, groups: Map<Kind, JsonValue[]>, nullIsMissing: boolean): string {
    const field = this.d.fieldAt(loc);
    const terms: string[] = [];
    for (const [kind, list] of groups) {
      if (kind === 'null') terms.push(nullIsMissing ? `${field} IS NULL` : this.d.kindAt(loc, 'null'));
      else if (kind === 'true' || kind === 'false') {
        // The equality on the extracted 1/0 lets an index on the field serve the lookup.
        terms.push(`(${field} = ${kind === 'true' ? 1 : 0} AND ${this.d.kindAt(loc, kind)})`);
      } else if (kind === 'object' || kind === 'array') {
        terms.push(this.#inexact(this.d.kindAt(loc, kind)));
      } else {
        const values = list as Array<string | number>;
        const test = this.#inList(field, values);
        terms.push(needsKindGuard(kind, values) ? `(${test} AND ${this.d.kindAt(loc, kind)})` : test);
      }
    }
    return or(terms);
  }

  /** An array element (json_each row) equals one of the grouped values. */
  #elementEquals(row: string, groups: Map<Kind, JsonValue[]>): string {
    const terms: string[] = [];
    for (const [kind, list] of groups) {
      const isKind = this.d.elementKind(row, kind);
      if (kind === 'null' || kind === 'true' || kind === 'false') terms.push(isKind);
      else if (kind === 'object' || kind === 'array') terms.push(this.#inexact(isKind));
      else terms.push(`(${isKind} AND ${this.#inList(this.d.elementAtom(row), list as Array<string | number>)})`);
    }
    return or(terms);
  }

  /** match.ts `equalsAny`: some value reached (or an element of it) equals one of `values`; null also means missing. */
  #equalsAny(path: Path, values: readonly JsonValue[]): string {
    if (values.length === 0) return '0';
    if (path.length > MAX_TRAVERSED_SEGMENTS) return this.#inexact('1');
    const groups = byKind(values);
    const single = path.length === 1;
    // One segment: the field is missing or null exactly when it extracts as NULL.
    const reached = this.#reach(path, (loc) =>
      this.#selfOrElement(
        loc,
        () => this.#valueEquals(loc, groups, single),
        (row) => this.#elementEquals(row, groups),
      ),
    );
    if (!groups.has('null') || single) return reached;
    return `(NOT ${this.#present(path)} OR ${reached})`;
  }

  #present(path: Path): string {
    return this.#reach(path, (loc) => this.d.presentAt(loc));
  }

  compile(filter: Filter): string {
    switch (filter.op) {
      case 'all':
        return '1';
      case 'and':
      case 'or': {
        if (filter.filters.length === 0) return filter.op === 'and' ? '1' : '0';
        return balanced(
          filter.filters.map((f) => this.compile(f)),
          filter.op === 'and' ? ' AND ' : ' OR ',
        );
      }
      case 'eq':
        return this.#equalsAny(filter.path, [filter.value]);
      case 'in':
        return this.#equalsAny(filter.path, filter.values);
      case 'ne':
        return this.#not(() => this.#equalsAny(filter.path, [filter.value]));
      case 'nin':
        if (filter.values.length === 0) return '1';
        return this.#not(() => this.#equalsAny(filter.path, filter.values));
      default:
        if (filter.path.length > MAX_TRAVERSED_SEGMENTS) return this.#inexact('1');
        return this.#leaf(filter);
    }
  }

  #leaf(filter: Extract<Filter, { op: 'exists' | 'size' | 'prefix' | 'gt' | 'gte' | 'lt' | 'lte' }>): string {
    const { path } = filter;
    switch (filter.op) {
      case 'exists':
        return filter.value ? this.#present(path) : `NOT ${this.#present(path)}`;
      case 'size':
        return this.#reach(
          path,
          (loc) =>
            `(${this.d.kindAt(loc, 'array')} AND ${this.d.arrayLengthAt(loc)} = ${this.d.param(this.params, filter.value)})`,
        );
      case 'prefix': {
        const prefix = filter.value;
        const upper = prefixUpperBound(prefix);
        const range = (field: string, isText: string): string => {
          if (prefix === '') return isText;
          let sql = `${field} >= ${this.d.param(this.params, prefix)}`;
          if (upper !== null) sql += ` AND ${field} < ${this.d.param(this.params, upper)}`;
          return `(${sql} AND ${isText})`;
        };
        return this.#reach(path, (loc) =>
          this.#selfOrElement(
            loc,
            () => range(this.d.fieldAt(loc), this.d.kindAt(loc, 'string')),
            (row) => range(this.d.elementAtom(row), this.d.elementKind(row, 'string')),
          ),
        );
      }
      default: {
        const sign = ({ gt: '>', gte: '>=', lt: '<', lte: '<=' } as const)[filter.op];
        const kind = typeof filter.value === 'number' ? 'number' : 'string';
        const value = filter.value;
        const element = (row: string): string =>
          `(${this.d.elementKind(row, kind)} AND ${this.d.elementAtom(row)} ${sign} ${this.d.param(this.params, value)})`;
        return this.#reach(path, (loc) => {
          if ('path' in loc && !this.#noArrays(loc) && this.d.rangeHoldsArrays(sign, kind, value)) {
            // One index range holding both the matches and every array keeps the index's
            // order (an OR of two ranges would make SQLite sort what it reads).
            const range = this.d.range(loc.path, sign, this.d.param(this.params, value), kind);
            const elements = this.d.elements(loc, `e${++this.#aliases}`, element);
            return `(${range} AND (${this.d.kindAt(loc, kind)} OR ${elements}))`;
          }
          return this.#selfOrElement(
            loc,
            () =>
              'path' in loc
                ? this.d.compare(loc.path, sign, this.d.param(this.params, value), kind)
                : `(${this.d.fieldAt(loc)} ${sign} ${this.d.param(this.params, value)} AND ${this.d.kindAt(loc, kind)})`,
            element,
          );
        });
      }
    }
  }
}

export interface CompileOptions {
  /**
   * Paths the caller knows hold no array in any stored document, neither at the path nor
   * at a prefix of it (e.g. a driver that probed its index on the path, in the same read
   * snapshot as the scan). They compile to plain field tests: one index range, in index
   * order, instead of an OR that also lists array elements. Default: none.
   */
  arrayFree?: (path: Path) => boolean;
}

/** Compiles a filter to a WHERE condition (`'1'` for match-all). */
export function compileFilter(
  filter: Filter | undefined,
  dialect: SqlDialect = sqliteDialect,
  options: CompileOptions = {},
): CompiledFilter {
  const compiler = new Compiler(dialect, options.arrayFree ?? (() => false));
  const sql = filter === undefined ? '1' : compiler.compile(filter);
  // A filter too big for one statement (SQLite allows 32,766 placeholders) selects every
  // row and leaves the answer to `matches()`: slower, never a different answer.
  if (compiler.params.length > MAX_PARAMS || sql.length > MAX_SQL_LENGTH) return { sql: '1', params: [], exact: false };
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
