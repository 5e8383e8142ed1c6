import type { ScanPosition } from '../drivers/driver.js';
import type { JsonScalar, SortSpec } from './ast.js';
import { sqliteDialect, type SqlDialect } from './sql.js';

/**
 * One stretch of the rows after a keyset position, in sort order: `sql` selects it, and
 * `sort` is the ORDER BY that orders it (without the first field when the stretch pins that
 * field to NULL, so an index on it serves the order by key).
 */
export interface KeysetSegment {
  sql: string;
  params: unknown[];
  sort: readonly SortSpec[];
}

/** A sort value as compared in SQL: match.ts ranks objects and arrays by their JSON text. */
function sortParam(value: unknown): JsonScalar {
  if (value === undefined || value === null) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  return value as JsonScalar;
}

/**
 * `(f1 after v1) OR (f1 IS v1 AND f2 after v2) OR ... OR (all equal AND key > k)`, where
 * "after" follows each direction and NULL sorts first ascending and last descending, as in
 * SQLite. With `firstNonNull`, the first field's alternative leaves out its NULLs (they are
 * a segment of their own). Placeholders are positional: each disjunct binds its own copies,
 * in textual order.
 */
function disjunction(
  sort: readonly SortSpec[],
  values: readonly JsonScalar[],
  key: string,
  keyColumn: string,
  dialect: SqlDialect,
  params: unknown[],
  firstNonNull: boolean,
): string {
  const disjuncts: string[] = [];
  const equalPrefix = (n: number): string[] =>
    sort.slice(0, n).map((s, i) => `${dialect.field(s.path)} IS ${dialect.param(params, values[i]!)}`);
  sort.forEach((s, i) => {
    const field = dialect.field(s.path);
    const v = values[i]!;
    if (v === null && s.dir === -1) return; // nothing sorts after NULL descending
    const eq = equalPrefix(i);
    let strict: string;
    if (v === null) strict = `${field} IS NOT NULL`;
    else if (s.dir === 1) strict = `${field} > ${dialect.param(params, v)}`;
    else if (i === 0 && firstNonNull) strict = `${field} < ${dialect.param(params, v)}`;
    else strict = `(${field} < ${dialect.param(params, v)} OR ${field} IS NULL)`;
    disjuncts.push([...eq, strict].join(' AND '));
  });
  disjuncts.push([...equalPrefix(sort.length), `${keyColumn} > ${dialect.param(params, key)}`].join(' AND '));
  return `(${disjuncts.map((d) => `(${d})`).join(' OR ')})`;
}

/**
 * The rows strictly after `after` under `sort` then key ascending, as segments to read in
 * order until a page is full. One condition with ORs would be correct but could not seek an
 * index on the first field where its NULLs sit on the far side of the position: SQLite then
 * sorted every remaining row for every page. Split at the NULLs, each segment is one index
 * range read in index order:
 * - ascending, position non-null: `f >= v AND ...`;
 * - ascending, position NULL: the NULLs after it (`f IS NULL`, by the other fields), then
 *   every non-null row;
 * - descending, position non-null: `f <= v AND ...`, then every NULL (they sort last);
 * - descending, position NULL: the NULLs after it.
 */
export function compileAfter(
  after: ScanPosition,
  sort: readonly SortSpec[],
  keyColumn: string,
  dialect: SqlDialect = sqliteDialect,
): KeysetSegment[] {
  if (sort.length === 0) {
    const params: unknown[] = [];
    return [{ sql: `${keyColumn} > ${dialect.param(params, after.key)}`, params, sort }];
  }
  const values = sort.map((_, i) => sortParam(after.values?.[i]));
  const first = sort[0]!;
  const field = dialect.field(first.path);
  const rest = sort.slice(1);
  if (values[0] === null) {
    const params: unknown[] = [];
    const nulls = {
      sql: `${field} IS NULL AND ${disjunction(rest, values.slice(1), after.key, keyColumn, dialect, params, false)}`,
      params,
      sort: rest,
    };
    return first.dir === 1 ? [nulls, { sql: `${field} IS NOT NULL`, params: [], sort }] : [nulls];
  }
  const params: unknown[] = [];
  const bound = `${field} ${first.dir === 1 ? '>=' : '<='} ${dialect.param(params, values[0]!)}`;
  const valuesSegment = {
    sql: `${bound} AND ${disjunction(sort, values, after.key, keyColumn, dialect, params, true)}`,
    params,
    sort,
  };
  return first.dir === 1 ? [valuesSegment] : [valuesSegment, { sql: `${field} IS NULL`, params: [], sort: rest }];
}
