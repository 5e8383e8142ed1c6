/**
 * The parsed filter language. `parseFilter` turns user filters into this tree; drivers either
 * compile it (SQL) or evaluate it with `matches` from `query/match.ts`.
 *
 * Paths are validated dotted paths split into segments: `settings.autoMerge` -> ['settings', 'autoMerge'].
 * Values are JSON values; `Date`s are normalised to ISO strings by the parser.
 */
export type JsonScalar = string | number | boolean | null;
export type JsonValue = JsonScalar | JsonValue[] | { [key: string]: JsonValue };

export type Path = readonly string[];

export type Filter =
  | { op: 'all' }
  /** Equal by JSON value; `null` also matches a missing field. */
  | { op: 'eq'; path: Path; value: JsonValue }
  /** Not `eq`: a missing field is "not equal" to any non-null value. */
  | { op: 'ne'; path: Path; value: JsonValue }
  /** Ordered comparison; matches only fields of the same type (number vs number, string vs string). */
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; path: Path; value: string | number }
  | { op: 'in' | 'nin'; path: Path; values: JsonValue[] }
  /** `true`: the field is present (a stored `null` counts as present). */
  | { op: 'exists'; path: Path; value: boolean }
  /** String field starting with `value`. */
  | { op: 'prefix'; path: Path; value: string }
  | { op: 'and' | 'or'; filters: Filter[] };

export interface SortSpec {
  path: Path;
  dir: 1 | -1;
}
