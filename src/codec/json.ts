import { StrataError } from '../errors.js';

/**
 * The deepest nesting of arrays and objects a value may have (a scalar is 0 deep, `[]` is 1,
 * `{ a: [1] }` is 2). Deeper values are `BAD_INPUT` on every driver. SQLite's JSON functions
 * refuse text nested more than 1,000 deep, which would break every filtered or sorted read of
 * the collection holding it; 256 leaves room for the envelope and for paths into the value.
 */
export const MAX_VALUE_DEPTH = 256;

/** How many times a `toJSON` may return something that has a `toJSON` of its own. */
const MAX_TOJSON_HOPS = 16;

const LOSSY = [Map, Set, WeakMap, WeakSet, WeakRef, RegExp, Promise, Error] as const;
const BOXED = [Number, String, Boolean, Symbol, BigInt] as const;
const DATE_TO_JSON = Date.prototype.toJSON;
const DATE_TO_ISO = Date.prototype.toISOString;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

const a = (name: string): string => `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;

type Trail = Array<string | number>;

/** `value.a[0]["b c"]`: the place of a bad value, built only when there is one to report. */
function pathOf(trail: Readonly<Trail>): string {
  let path = 'value';
  for (const k of trail) path += typeof k === 'number' ? `[${k}]` : IDENTIFIER.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  return path;
}

/** The path for a message: a 256-deep path is shortened to its two ends. */
function shortPath(trail: Readonly<Trail>): string {
  return trail.length <= 24
    ? pathOf(trail)
    : `${pathOf(trail.slice(0, 8))}...(${trail.length - 16} more)...${pathOf(trail.slice(-8)).slice(5)}`;
}

const HINT = 'store strings, finite numbers, booleans, null, arrays, plain objects or Dates';

/** Where each value refusal points and what it says, so a caller can hide the path's tail (see `cutRefusal`). */
const refusals = new WeakMap<StrataError, { trail: Trail; what: string; hint: string; cause: unknown }>();

function bad(trail: Readonly<Trail>, what: string, hint = HINT, cause?: unknown): StrataError {
  const path = pathOf(trail);
  const error = new StrataError('BAD_INPUT', `${shortPath(trail)} is ${what}`, { hint, cause, details: { path } });
  refusals.set(error, { trail: [...trail], what, hint, cause });
  return error;
}

/** The trail (property names and indexes, from the value's root) of a value refusal; undefined for any other error. */
export function refusalTrail(error: unknown): ReadonlyArray<string | number> | undefined {
  return error instanceof StrataError ? refusals.get(error)?.trail : undefined;
}

/**
 * A value refusal naming only the first `depth` steps of its path: below them the value is
 * encrypted at rest, and its property names are part of it (a map keyed by tokens).
 */
export function cutRefusal(error: StrataError, depth: number): StrataError {
  const r = refusals.get(error);
  if (r === undefined || r.trail.length <= depth) return error;
  const kept = r.trail.slice(0, depth);
  return new StrataError('BAD_INPUT', `a part of ${shortPath(kept)} (encrypted, so not named) is ${r.what}`, {
    hint: r.hint,
    cause: r.cause,
    details: { path: pathOf(kept), hidden: true },
  });
}

/** Whether `value` is plain JSON that round-trips exactly (the value rule's fast check; see `simple`). */
export function isExactJson(value: unknown): boolean {
  return simple(value, 0);
}

/**
 * The common case, checked without allocating: true when `value` is made only of well-formed
 * strings, finite numbers, booleans, null, plain arrays and objects no deeper than the limit,
 * and valid Dates whose toJSON is the built-in one. For such a value JSON.stringify writes
 * exactly what JSON.parse gives back (Dates as their ISO string). Anything else, including
 * every mistake, returns false and goes to `prepare`, which decides and explains.
 */
function simple(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return value.isWellFormed();
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Date.prototype) {
    const date = value as Date;
    return date.toJSON === DATE_TO_JSON && date.toISOString === DATE_TO_ISO && !Number.isNaN(date.getTime());
  }
  // A cycle also ends here, at the depth limit: no ancestor list is needed on this path.
  if (depth >= MAX_VALUE_DEPTH) return false;
  if (proto === Array.prototype) {
    const array = value as unknown[];
    if (typeof (array as { toJSON?: unknown }).toJSON === 'function') return false; // a polluted Array.prototype
    for (let i = 0; i < array.length; i++) {
      const child = array[i];
      if (typeof child === 'string' ? !child.isWellFormed() : !simple(child, depth + 1)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  const object = value as Record<string, unknown>;
  if (typeof object.toJSON === 'function') return false;
  // for-in allocates no key array; it also visits inherited enumerable keys (only there if
  // Object.prototype was polluted), which only makes this check stricter than JSON's own keys.
  for (const key in object) {
    if (key === '__proto__' || !key.isWellFormed()) return false;
    const child = object[key];
    if (child === undefined) continue;
    if (typeof child === 'string' ? !child.isWellFormed() : !simple(child, depth + 1)) return false;
  }
  return true;
}

/** Why an object that is not a plain object, array or Date cannot be stored as it is. */
function refuseObject(value: object, trail: Trail): never {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    const name = value.constructor.name;
    throw bad(trail, `binary data (${a(name)})`, "encode it as a base64 string, e.g. Buffer.from(bytes).toString('base64')");
  }
  const boxed = BOXED.find((type) => value instanceof type);
  if (boxed) throw bad(trail, `a boxed ${boxed.name}`, 'store the primitive instead: x.valueOf()');
  const lossy = LOSSY.find((type) => value instanceof type);
  if (lossy) throw bad(trail, `${a(lossy.name)}, which JSON cannot hold`);
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  throw bad(
    trail,
    `an instance of ${typeof name === 'string' && name !== '' ? name : 'a class'}, which JSON reads back as a plain object`,
    'store a plain object (e.g. { ...instance }) or give the class a toJSON() method',
  );
}

/** Calls a toJSON method the way JSON.stringify does, mapping a throw to BAD_INPUT. */
function callToJSON(value: object & { toJSON: (key: string) => unknown }, key: string, trail: Trail): unknown {
  try {
    return value.toJSON(key);
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw bad(trail, `an object whose toJSON() threw: ${message}`, 'fix its toJSON() or store a plain object', cause);
  }
}

/**
 * The careful path: checks `value` fully and returns a copy made only of plain JSON data,
 * with every toJSON already applied exactly once, so what is checked is what is written
 * (a toJSON that returns something different on a second call cannot slip past). The copy's
 * objects and arrays have no prototype, so not even a polluted Object.prototype.toJSON or
 * Array.prototype.toJSON is called again by JSON.stringify. Throws
 * BAD_INPUT naming the path of the first part that would not round-trip.
 * `trail` (keys down to here) and `seen` (containing ancestors, for cycles) are shared stacks.
 */
function prepare(value: unknown, key: string, trail: Trail, seen: object[], hops: number): unknown {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) {
        throw bad(trail, 'a string with a lone UTF-16 surrogate', 'store well-formed text (see String.prototype.toWellFormed)');
      }
      return value;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw bad(trail, `${value}, which JSON cannot hold`);
      return value;
    case 'undefined':
      throw bad(trail, 'undefined, which JSON cannot hold', `${HINT}; use null for "no value"`);
    case 'bigint':
      throw bad(
        trail,
        'a BigInt, which JSON cannot hold',
        'store it as a string (String(n)) or, if it is small enough, a number',
      );
    case 'function':
      throw bad(trail, 'a function, which JSON cannot hold');
    case 'symbol':
      throw bad(trail, 'a symbol, which JSON cannot hold');
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.includes(object)) throw bad(trail, 'a cycle (it contains itself)');
  const proto = Object.getPrototypeOf(object) as unknown;
  const isArray = proto === Array.prototype && Array.isArray(object);
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    if (object instanceof Date && Number.isNaN(object.getTime())) throw bad(trail, 'an invalid Date');
    if (ArrayBuffer.isView(object)) refuseObject(object, trail); // Buffer has a lossy toJSON
    if (hops >= MAX_TOJSON_HOPS) throw bad(trail, `a chain of more than ${MAX_TOJSON_HOPS} toJSON() results`);
    const out = callToJSON(object as object & { toJSON: (key: string) => unknown }, key, trail);
    return prepare(out, key, trail, seen, hops + 1);
  }
  if (!isArray && proto !== Object.prototype && proto !== null) refuseObject(object, trail);
  if (seen.length >= MAX_VALUE_DEPTH) {
    throw bad(
      trail,
      `nested deeper than ${MAX_VALUE_DEPTH} levels`,
      `keep values at most ${MAX_VALUE_DEPTH} arrays/objects deep`,
    );
  }
  seen.push(object);
  let copy: unknown;
  if (isArray) {
    const array = object as unknown[];
    const out = Object.setPrototypeOf([], null) as unknown[];
    for (let i = 0; i < array.length; i++) {
      trail.push(i);
      out[i] = prepare(array[i], String(i), trail, seen, 0);
      trail.pop();
    }
    copy = out;
  } else {
    const out = Object.create(null) as Record<string, unknown>;
    for (const name of Object.keys(object)) {
      trail.push(name);
      if (name === '__proto__') {
        throw bad(
          trail.slice(0, -1),
          'an object with a "__proto__" key',
          'rename the field: "__proto__" keys are refused to prevent prototype pollution',
        );
      }
      if (!name.isWellFormed()) {
        throw bad(
          trail,
          'under a key with a lone UTF-16 surrogate',
          'use well-formed text for keys (see String.prototype.toWellFormed)',
        );
      }
      const child = (object as Record<string, unknown>)[name];
      // JSON drops properties whose value is undefined; so does Strata (documented).
      if (child !== undefined) out[name] = prepare(child, name, trail, seen, 0);
      trail.pop();
    }
    copy = out;
  }
  seen.pop();
  return copy;
}

/**
 * Serializes a user value to JSON text, refusing with BAD_INPUT anything that would not read
 * back as the same value (see MAX_VALUE_DEPTH and the README's value rules). Runs on every
 * write: plain data takes an allocation-free check and the native JSON.stringify.
 */
export function encodeJson(value: unknown): string {
  try {
    if (simple(value, 0)) return JSON.stringify(value);
    return JSON.stringify(prepare(value, '', [], [], 0));
  } catch (error) {
    if (error instanceof StrataError) throw error;
    // A getter or a Proxy of the caller's that throws while the value is read: the value is
    // the caller's mistake (BAD_INPUT), not the backend's (UNAVAILABLE).
    throw new StrataError('BAD_INPUT', `reading the value threw: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'pass plain data: a getter or Proxy in it threw while Strata read it (see cause)',
      cause: error,
    });
  }
}

function dropProto(this: unknown, key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * Parses JSON text without letting `__proto__` keys through. The reviver costs a lot, so it
 * runs only when the text could contain such a key: spelt out, or hidden behind a `\u`
 * escape (`"\u005f_proto__"`), which JSON.stringify never writes for plain text. Searching
 * for `"__proto__"` with its quote would be ~10x slower: quotes are everywhere in JSON.
 */
export function parseJson(text: string): unknown {
  return text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, dropProto) : JSON.parse(text);
}

/** Parses JSON that came from outside (a file, an import), mapping syntax errors to CORRUPT. */
export function parseExternalJson(text: string, source: string): unknown {
  try {
    return parseJson(text);
  } catch (cause) {
    throw new StrataError('CORRUPT', `${source} is not valid JSON`, { cause, hint: 'restore it from a backup or re-export it' });
  }
}
