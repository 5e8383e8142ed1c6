import { StrataError } from '../errors.js';
import { MAX_VALUE_DEPTH } from '../codec/json.js';
import type { Filter, JsonValue, Path, SortSpec } from './ast.js';

const SEGMENT = /^[A-Za-z0-9_$-]+$/;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);
const COMPARISONS = new Set(['$gt', '$gte', '$lt', '$lte']);
const MAX_DEPTH = 32;
/** Sort fields of one query: each is an ORDER BY term and a part of every keyset condition. */
export const MAX_SORT_FIELDS = 32;
const OPERATORS = '$eq $ne $gt $gte $lt $lte $in $nin $exists $prefix $all $size';

function bad(message: string, hint?: string): StrataError {
  return new StrataError('BAD_INPUT', message, { hint });
}

/** Validates a dotted field path such as `settings.autoMerge` and splits it. */
export function parsePath(path: string): Path {
  if (typeof path !== 'string' || path.length === 0 || path.length > 512) {
    throw bad(`field path ${JSON.stringify(path)} is not well-formed`, 'use dotted names like "a.b"');
  }
  const segments = path.split('.');
  for (const segment of segments) {
    if (!SEGMENT.test(segment) || FORBIDDEN_SEGMENTS.has(segment)) {
      throw bad(
        `field path ${JSON.stringify(path)} is not well-formed`,
        'segments are letters, digits, "_", "$" or "-", separated by single dots',
      );
    }
  }
  return segments;
}

/** Normalises a filter operand into a JSON value (Dates become ISO strings). */
function operand(value: unknown, where: string, depth = 0): JsonValue {
  // No stored value is deeper, and an unbounded recursion would overflow the stack.
  if (depth > MAX_VALUE_DEPTH)
    throw bad(
      `${where}: the value is nested more than ${MAX_VALUE_DEPTH} levels deep`,
      'no stored value is that deep: compare a shallower value',
    );
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw bad(`${where}: invalid Date`, 'pass a valid Date, or an ISO date string');
    return value.toISOString();
  }
  // A lone surrogate compares differently in JS and in SQLite's UTF-8; no stored string has one.
  if (typeof value === 'string' && !value.isWellFormed())
    throw bad(
      `${where}: the string has a lone UTF-16 surrogate`,
      'no stored string holds one: pass well-formed text (String.prototype.toWellFormed)',
    );
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw bad(`${where}: ${value} is not a finite number`, 'no stored number is NaN or infinite: compare a finite number');
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => operand(v, `${where}[${i}]`, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith('$'))
        throw bad(
          `${where}: operator ${k} is not allowed inside a value`,
          'operators go right after a field name, e.g. { n: { $gt: 1 } }',
        );
      // No stored object has one (values refuse it), and assigning it would set a prototype.
      if (k === '__proto__')
        throw bad(
          `${where}: a "__proto__" key never matches a stored value`,
          'leave the "__proto__" key out of the compared object',
        );
      out[k] = operand(v, `${where}.${k}`, depth + 1);
    }
    return out;
  }
  throw bad(`${where}: ${typeof value} cannot be compared`, 'use strings, numbers, booleans, null or Dates');
}

/**
 * A filter or a sort is a plain object: a Map, a Date, a class instance or an object whose
 * fields sit on its prototype has no own entries, and would read as "match everything" (or
 * "no sort"). Symbol keys are no field names. `Object.create(null)` is plain too.
 */
function isPlain(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(value).length === 0;
}

/**
 * Runs a parse, mapping a throw from the caller's own object (a getter or a Proxy trap that
 * throws while it is read) to BAD_INPUT with that error as cause: it is the caller's input,
 * not the backend, that failed.
 */
function reading<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw new StrataError('BAD_INPUT', `reading the ${what} threw: ${error instanceof Error ? error.message : String(error)}`, {
      hint: `pass the ${what} as plain data: a getter or Proxy in it threw while Strata read it (see cause)`,
      cause: error,
    });
  }
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

function fieldConditions(path: Path, name: string, spec: unknown): Filter[] {
  if (!isOperatorObject(spec)) {
    if (spec !== null && typeof spec === 'object' && Object.keys(spec).some((k) => k.startsWith('$'))) {
      throw bad(
        `filter on "${name}" mixes operators and plain fields`,
        `use operators only ({ ${name}: { $gt: 1 } }) or a value only ({ ${name}: { a: 1 } })`,
      );
    }
    return [{ op: 'eq', path, value: operand(spec, name) }];
  }
  const out: Filter[] = [];
  for (const [op, raw] of Object.entries(spec)) {
    const where = `${name}.${op}`;
    if (op === '$eq' || op === '$ne') {
      out.push({ op: op === '$eq' ? 'eq' : 'ne', path, value: operand(raw, where) });
    } else if (COMPARISONS.has(op)) {
      const value = operand(raw, where);
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw bad(`${where} needs a number, string or Date`, `e.g. { ${name}: { ${op}: 10 } }`);
      }
      out.push({ op: op.slice(1) as 'gt' | 'gte' | 'lt' | 'lte', path, value });
    } else if (op === '$in' || op === '$nin') {
      if (!Array.isArray(raw)) throw bad(`${where} needs an array`, `e.g. { ${name}: { ${op}: ['a', 'b'] } }`);
      out.push({ op: op === '$in' ? 'in' : 'nin', path, values: raw.map((v, i) => operand(v, `${where}[${i}]`)) });
    } else if (op === '$exists') {
      if (typeof raw !== 'boolean') throw bad(`${where} needs true or false`, `e.g. { ${name}: { $exists: true } }`);
      out.push({ op: 'exists', path, value: raw });
    } else if (op === '$prefix') {
      if (typeof raw !== 'string') throw bad(`${where} needs a string`, `e.g. { ${name}: { $prefix: 'abc' } }`);
      operand(raw, where);
      out.push({ op: 'prefix', path, value: raw });
    } else if (op === '$all') {
      if (!Array.isArray(raw)) throw bad(`${where} needs an array`, `e.g. { ${name}: { ${op}: ['a', 'b'] } }`);
      const values = raw.map((v, i) => operand(v, `${where}[${i}]`));
      // As MongoDB: `$all` is the conjunction of one equality per value, and an empty list
      // matches nothing (an empty `$in` is the AST's "matches nothing").
      if (values.length === 0) out.push({ op: 'in', path, values: [] });
      else for (const value of values) out.push({ op: 'eq', path, value });
    } else if (op === '$size') {
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) {
        throw bad(`${where} needs a whole number of elements (0 or more)`, `e.g. { ${name}: { $size: 2 } }`);
      }
      out.push({ op: 'size', path, value: raw });
    } else {
      throw bad(`unknown filter operator ${op} on "${name}"`, `use ${OPERATORS}`);
    }
  }
  return out;
}

function parseNode(filter: unknown, depth: number): Filter {
  if (depth > MAX_DEPTH)
    throw bad(`filter is nested more than ${MAX_DEPTH} levels deep`, 'flatten it: $and and $or of $and and $or can be merged');
  if (!isPlain(filter)) {
    throw bad(
      'a filter must be a plain object such as { status: "todo" }',
      'not a Map, Date or class instance, and with no symbol keys',
    );
  }
  const parts: Filter[] = [];
  for (const [name, spec] of Object.entries(filter)) {
    if (name === '$and' || name === '$or') {
      if (!Array.isArray(spec) || spec.length === 0)
        throw bad(`${name} needs a non-empty array of filters`, `e.g. { ${name}: [{ status: 'todo' }, { status: 'doing' }] }`);
      parts.push({ op: name === '$and' ? 'and' : 'or', filters: spec.map((f) => parseNode(f, depth + 1)) });
    } else if (name.startsWith('$')) {
      throw bad(`unknown filter operator ${name}`, 'top-level operators are $and and $or');
    } else {
      parts.push(...fieldConditions(parsePath(name), name, spec));
    }
  }
  if (parts.length === 0) return { op: 'all' };
  if (parts.length === 1) return parts[0]!;
  return { op: 'and', filters: parts };
}

/** Parses and validates a user filter. `undefined` or `{}` match everything. */
export function parseFilter(filter: unknown): Filter {
  if (filter === undefined) return { op: 'all' };
  return reading('filter', () => parseNode(filter, 0));
}

/** Parses `{ createdAt: -1, title: 1 }` (or `'asc'`/`'desc'`) into sort specs. */
export function parseSort(sort: unknown): SortSpec[] {
  if (sort === undefined) return [];
  return reading('sort', () => sortSpecs(sort));
}

function sortSpecs(sort: unknown): SortSpec[] {
  if (!isPlain(sort)) {
    throw bad('sort must be a plain object such as { createdAt: -1 }', 'not a Map or class instance, and with no symbol keys');
  }
  const entries = Object.entries(sort);
  if (entries.length > MAX_SORT_FIELDS)
    throw bad(`sort has ${entries.length} fields; at most ${MAX_SORT_FIELDS} are allowed`, 'sort on fewer fields');
  return entries.map(([name, dir]) => {
    const path = parsePath(name);
    if (dir === 1 || dir === 'asc') return { path, dir: 1 };
    if (dir === -1 || dir === 'desc') return { path, dir: -1 };
    throw bad(`sort direction for "${name}" must be 1, -1, "asc" or "desc"`, `e.g. { ${name}: -1 }`);
  });
}

/** True when the filter matches every record (no work to push down). */
export function isMatchAll(filter: Filter | undefined): boolean {
  return filter === undefined || filter.op === 'all';
}
