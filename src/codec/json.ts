import { StrataError } from '../errors.js';

const LOSSY = [Map, Set, WeakMap, WeakSet, RegExp, Promise] as const;

/** `value.a[0].b`: the place of a bad value, built only when there is one to report. */
function pathOf(trail: ReadonlyArray<string | number>): string {
  return `value${trail.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
}

function bad(trail: ReadonlyArray<string | number>, what: string): StrataError {
  const path = pathOf(trail);
  return new StrataError('BAD_INPUT', `${path} is ${what}, which JSON cannot hold`, {
    hint: 'store strings, finite numbers, booleans, null, arrays, plain objects or Dates',
    details: { path },
  });
}

/**
 * Checks that a value survives a JSON round trip unchanged. JSON.stringify itself silently
 * turns NaN into null, drops functions and throws a bare TypeError on cycles and BigInt;
 * Strata refuses instead, so what is read back is what was written.
 * Object properties whose value is `undefined` are dropped, as JSON does.
 * This runs on every write, so it allocates nothing on the way: `trail` (the keys down to
 * here) and `seen` (the ancestors, for cycles) are shared stacks.
 */
function check(value: unknown, trail: Array<string | number>, seen: unknown[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw bad(trail, String(value));
      return;
    case 'undefined':
      throw bad(trail, 'undefined');
    case 'bigint':
      throw bad(trail, 'a BigInt');
    case 'function':
      throw bad(trail, 'a function');
    case 'symbol':
      throw bad(trail, 'a symbol');
  }
  if (value === null) return;
  if (seen.includes(value)) throw bad(trail, 'a cycle');
  const proto = Object.getPrototypeOf(value) as unknown;
  // Plain objects and arrays, the common case, skip the instanceof checks below.
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      if (value instanceof Date && Number.isNaN(value.getTime())) throw bad(trail, 'an invalid Date');
      return;
    }
    if (LOSSY.some((type) => value instanceof type)) throw bad(trail, `a ${(value as object).constructor.name}`);
  }
  seen.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child: unknown = value[i];
      if (typeof child === 'string' || typeof child === 'boolean') continue;
      trail.push(i);
      check(child, trail, seen);
      trail.pop();
    }
  } else {
    for (const key of Object.keys(value as object)) {
      if (key === '__proto__') {
        const path = pathOf(trail);
        throw new StrataError('BAD_INPUT', `${path} has a "__proto__" key`, {
          hint: 'rename the field: "__proto__" keys are refused to prevent prototype pollution',
          details: { path },
        });
      }
      const child = (value as Record<string, unknown>)[key];
      if (child === undefined || typeof child === 'string' || typeof child === 'boolean') continue;
      trail.push(key);
      check(child, trail, seen);
      trail.pop();
    }
  }
  seen.pop();
}

/** Serializes a user value to JSON text, refusing anything that would not round-trip. */
export function encodeJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  check(value, [], []);
  return JSON.stringify(value);
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
