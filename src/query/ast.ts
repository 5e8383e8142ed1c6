/**
 * The parsed filter language. `parseFilter` turns user filters into this tree; drivers either
 * compile it (SQL) or evaluate it with `matches` from `query/match.ts`.
 *
 * Paths are validated dotted paths split into segments: `settings.autoMerge` -> ['settings', 'autoMerge'].
 * Values are JSON values; `Date`s are normalised to ISO strings by the parser.
 *
 * Arrays (as MongoDB): a path reaches every value it can through objects and, below the top
 * level, through arrays of objects (`items.sku` reaches the `sku` of each element of
 * `items`); a condition holds when one of the values reached satisfies it, and eq / in /
 * prefix / ordered comparisons also hold when that value is an array with an element that
 * satisfies them. `match.ts` `resolvePath` is the reference.
 */
export type JsonScalar = string | number | boolean | null;
export type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };

export type Path = readonly string[];

export type Filter =
  | { op: 'all' }
  /**
   * Equal by JSON value, or an array field with an element equal to it; `null` also matches
   * a missing field.
   */
  | { op: 'eq'; path: Path; value: JsonValue }
  /** Not `eq`: a missing field is "not equal" to any non-null value; no element may be equal. */
  | { op: 'ne'; path: Path; value: JsonValue }
  /**
   * Ordered comparison; matches only fields (or array elements) of the same type (number vs
   * number, string vs string). On an array, some element must satisfy it.
   */
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; path: Path; value: string | number }
  | { op: 'in' | 'nin'; path: Path; values: JsonValue[] }
  /** `true`: the field is present (a stored `null` counts as present). */
  | { op: 'exists'; path: Path; value: boolean }
  /** String field (or an array with a string element) starting with `value`. */
  | { op: 'prefix'; path: Path; value: string }
  /** The field is an array of exactly `value` elements. */
  | { op: 'size'; path: Path; value: number }
  | { op: 'and' | 'or'; filters: Filter[] };

export interface SortSpec {
  path: Path;
  dir: 1 | -1;
}
