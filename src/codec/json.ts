import { StrataError } from '../errors.js';

const LOSSY = [Map, Set, WeakMap, WeakSet, RegExp, Promise] as const;

function bad(path: string, what: string): StrataError {
  return new StrataError('BAD_INPUT', `value${path} is ${what}, which JSON cannot hold`, {
    hint: 'store strings, finite numbers, booleans, null, arrays, plain objects or Dates',
    details: { path: `value${path}` },
  });
}

/**
 * Checks that a value survives a JSON round trip unchanged. JSON.stringify itself silently
 * turns NaN into null, drops functions and throws a bare TypeError on cycles and BigInt;
 * Strata refuses instead, so what is read back is what was written.
 * Object properties whose value is `undefined` are dropped, as JSON does.
 */
function check(value: unknown, path: string, seen: unknown[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw bad(path, String(value));
      return;
    case 'undefined':
      throw bad(path, 'undefined');
    case 'bigint':
      throw bad(path, 'a BigInt');
    case 'function':
      throw bad(path, 'a function');
    case 'symbol':
      throw bad(path, 'a symbol');
  }
  if (value === null) return;
  if (seen.includes(value)) throw bad(path, 'a cycle');
  const proto = Object.getPrototypeOf(value) as unknown;
  // Plain objects and arrays, the common case, skip the instanceof checks below.
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      if (value instanceof Date && Number.isNaN(value.getTime())) throw bad(path, 'an invalid Date');
      return;
    }
    if (LOSSY.some((type) => value instanceof type)) throw bad(path, `a ${(value as object).constructor.name}`);
  }
  seen.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`, seen);
  } else {
    for (const key of Object.keys(value as object)) {
      if (key === '__proto__') {
        throw new StrataError('BAD_INPUT', `value${path} has a "__proto__" key`, {
          hint: 'rename the field: "__proto__" keys are refused to prevent prototype pollution',
          details: { path: `value${path}` },
        });
      }
      const child = (value as Record<string, unknown>)[key];
      if (child !== undefined) check(child, `${path}.${key}`, seen);
    }
  }
  seen.pop();
}

/** Serializes a user value to JSON text, refusing anything that would not round-trip. */
export function encodeJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  check(value, '', []);
  return JSON.stringify(value);
}

function dropProto(this: unknown, key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * Parses JSON text without letting `__proto__` keys through. The reviver costs a lot, so it
 * runs only when the text could contain such a key.
 */
export function parseJson(text: string): unknown {
  return text.includes('"__proto__"') ? JSON.parse(text, dropProto) : JSON.parse(text);
}

/** Parses JSON that came from outside (a file, an import), mapping syntax errors to CORRUPT. */
export function parseExternalJson(text: string, source: string): unknown {
  try {
    return parseJson(text);
  } catch (cause) {
    throw new StrataError('CORRUPT', `${source} is not valid JSON`, { cause, hint: 'restore it from a backup or re-export it' });
  }
}
