import { MAX_VALUE_DEPTH } from '../codec/json.js';

/**
 * Hostile and edge values for the value suite. Each case builds its value afresh (some count
 * their toJSON calls). `back` is what must be read back; absent, the value itself.
 */
export interface ValueCase {
  name: string;
  make: () => unknown;
  back?: unknown;
  /** Only as a whole kv value: inside a document it would be one level deeper. */
  kvOnly?: boolean;
}

/** Arrays nested `depth` deep around `inner`; `[]` is 1 deep. */
export function nestArrays(depth: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Objects nested `depth` deep: `{ a: { a: ... inner } }`. */
export function nestObjects(depth: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

function cyclic(): unknown {
  const a: Record<string, unknown> = { b: { c: [] as unknown[] } };
  ((a.b as Record<string, unknown>).c as unknown[]).push(a);
  return a;
}

/** A toJSON that answers well once and badly after: Strata must call it exactly once. */
function fickle(): unknown {
  let calls = 0;
  return { v: { toJSON: () => (calls++ === 0 ? 'first' : Number.NaN) } };
}

class Point {
  x = 1;
  y = 2;
}
class Money {
  constructor(readonly cents: number) {}
  toJSON(): unknown {
    return { cents: this.cents, currency: 'EUR' };
  }
}
class ToJson {
  constructor(readonly out: () => unknown) {}
  toJSON(): unknown {
    return this.out();
  }
}
class List extends Array<number> {}

const withToJSON = (out: () => unknown): unknown => ({ v: new ToJson(out) });

export const REFUSED: ValueCase[] = [
  // numbers and primitives JSON cannot hold
  { name: 'NaN', make: () => Number.NaN },
  { name: 'Infinity', make: () => Number.POSITIVE_INFINITY },
  { name: '-Infinity inside an array', make: () => [1, Number.NEGATIVE_INFINITY] },
  { name: 'NaN in an object', make: () => ({ x: Number.NaN }) },
  { name: 'undefined', make: () => undefined },
  { name: 'undefined in an array', make: () => [undefined] },
  // eslint-disable-next-line no-sparse-arrays
  { name: 'a sparse array', make: () => [, 1] },
  { name: 'a BigInt', make: () => 10n },
  { name: 'a nested BigInt', make: () => ({ n: { m: 2n ** 70n } }) },
  { name: 'a function', make: () => () => 1 },
  { name: 'a method', make: () => ({ f() {} }) },
  { name: 'a symbol', make: () => Symbol('s') },
  { name: 'a symbol in an object', make: () => ({ s: Symbol.iterator }) },
  // boxed primitives (JSON unboxes them; NaN inside one becomes null)
  { name: 'new Number(NaN)', make: () => ({ x: new Number(Number.NaN) }) },
  { name: 'new Number(1)', make: () => new Number(1) },
  { name: "new String('x')", make: () => new String('x') },
  { name: 'new Boolean(false)', make: () => [new Boolean(false)] },
  { name: 'Object(1n)', make: () => Object(1n) },
  { name: 'Object(Symbol())', make: () => Object(Symbol('boxed')) },
  // binary data
  { name: 'Uint8Array', make: () => ({ b: new Uint8Array([7, 8]) }) },
  { name: 'Int32Array', make: () => new Int32Array(2) },
  { name: 'Float64Array', make: () => new Float64Array([1.5]) },
  { name: 'BigInt64Array', make: () => new BigInt64Array(1) },
  { name: 'Buffer', make: () => Buffer.from('hi') },
  { name: 'ArrayBuffer', make: () => new ArrayBuffer(4) },
  { name: 'SharedArrayBuffer', make: () => new SharedArrayBuffer(4) },
  { name: 'DataView', make: () => new DataView(new ArrayBuffer(4)) },
  // objects JSON cannot hold or reads back as something else
  { name: 'Map', make: () => new Map([['a', 1]]) },
  { name: 'Set', make: () => ({ s: new Set([1]) }) },
  { name: 'WeakMap', make: () => new WeakMap() },
  { name: 'WeakSet', make: () => new WeakSet() },
  { name: 'WeakRef', make: () => new WeakRef({}) },
  { name: 'RegExp', make: () => /x/g },
  { name: 'Promise', make: () => Promise.resolve(1) },
  { name: 'Error', make: () => new Error('x') },
  { name: 'TypeError', make: () => ({ e: new TypeError('y') }) },
  { name: 'a class instance', make: () => new Point() },
  { name: 'a nested class instance', make: () => ({ p: [new Point()] }) },
  { name: 'an object with an inherited prototype', make: () => Object.create({ inherited: 1 }) as unknown },
  { name: 'an Array subclass', make: () => List.from([1, 2]) },
  { name: 'an invalid Date', make: () => new Date(Number.NaN) },
  { name: 'a nested invalid Date', make: () => ({ at: new Date('nope') }) },
  // cycles
  { name: 'an object containing itself', make: cyclic },
  {
    name: 'an array containing itself',
    make: () => {
      const a: unknown[] = [1];
      a.push(a);
      return a;
    },
  },
  // toJSON output goes through the same checks
  { name: 'toJSON returning NaN', make: () => withToJSON(() => Number.NaN) },
  { name: 'toJSON returning a __proto__ key', make: () => withToJSON(() => JSON.parse('{"__proto__":{"x":1}}')) },
  { name: 'toJSON returning a BigInt', make: () => withToJSON(() => 5n) },
  { name: 'toJSON returning undefined', make: () => withToJSON(() => undefined) },
  { name: 'toJSON returning a function', make: () => withToJSON(() => () => 1) },
  { name: 'toJSON returning a Map', make: () => withToJSON(() => new Map()) },
  { name: 'toJSON returning a lone surrogate', make: () => withToJSON(() => 'x\ud800') },
  { name: 'toJSON returning a cycle', make: () => withToJSON(cyclic) },
  { name: 'toJSON returning a too deep value', make: () => withToJSON(() => nestArrays(MAX_VALUE_DEPTH + 5)) },
  { name: 'toJSON returning a toJSON returning NaN', make: () => withToJSON(() => new ToJson(() => Number.NaN)) },
  {
    name: 'toJSON returning itself',
    make: () =>
      new (class Self {
        toJSON(): unknown {
          return this;
        }
      })(),
  },
  {
    name: 'a toJSON that throws',
    make: () =>
      withToJSON(() => {
        throw new Error('boom');
      }),
  },
  {
    name: 'a hidden toJSON returning NaN',
    make: () => Object.defineProperty({ a: 1 }, 'toJSON', { value: () => Number.NaN, enumerable: false }),
  },
  {
    name: 'a getter returning NaN',
    make: () => ({
      get x() {
        return Number.NaN;
      },
    }),
  },
  // __proto__ keys
  { name: 'a __proto__ key', make: () => JSON.parse('{"__proto__":1}') },
  { name: 'a nested __proto__ key', make: () => ({ a: [JSON.parse('{"__proto__":{"polluted":true}}')] }) },
  // strings with lone surrogates, as values and as keys
  { name: 'a lone high surrogate', make: () => '\ud800' },
  { name: 'a lone low surrogate', make: () => 'a\udfff' },
  { name: 'a reversed pair', make: () => '\ude00\ud83d' },
  { name: 'half an emoji in an object', make: () => ({ k: 'x\ud83d' }) },
  { name: 'a lone surrogate in an array', make: () => ['ok', '\udbff'] },
  { name: 'a key with a lone surrogate', make: () => ({ ['\ud800']: 1 }) },
  { name: 'a nested key with a lone surrogate', make: () => ({ a: { ['k\udc00']: 1 } }) },
  // nesting past the limit
  { name: `arrays ${MAX_VALUE_DEPTH + 1} deep`, make: () => nestArrays(MAX_VALUE_DEPTH + 1) },
  { name: `objects ${MAX_VALUE_DEPTH + 1} deep`, make: () => nestObjects(MAX_VALUE_DEPTH + 1) },
  {
    name: 'mixed nesting past the limit',
    make: () => ({ a: nestObjects(MAX_VALUE_DEPTH / 2, nestArrays(MAX_VALUE_DEPTH / 2)) }),
  },
  { name: 'arrays 100,000 deep', make: () => nestArrays(100_000) },
  { name: 'objects 100,000 deep', make: () => nestObjects(100_000) },
];

const ISO_0 = '1970-01-01T00:00:00.000Z';

export const ACCEPTED: ValueCase[] = [
  // strings
  { name: 'empty string', make: () => '' },
  { name: 'ascii', make: () => 'abc' },
  { name: 'accents', make: () => 'ünïcødé' },
  { name: 'astral', make: () => '😀𝄞𐍈' },
  { name: 'U+10FFFF', make: () => '\u{10ffff}' },
  { name: 'NUL inside', make: () => 'a\u0000b' },
  { name: 'only NUL', make: () => '\u0000' },
  { name: 'U+FFFF, U+FFFD, U+E000, U+D7FF', make: () => '\uffff\ufffd\ue000\ud7ff' },
  { name: 'line and paragraph separators', make: () => '\u2028\u2029' },
  { name: 'quotes and backslashes', make: () => '"q" \\ / \\u0000 \\"' },
  { name: 'control characters', make: () => '\n\t\r\b\f\u001f\u007f' },
  { name: 'combining vs precomposed', make: () => ['e\u0301', '\u00e9'] },
  { name: 'ZWJ emoji sequence', make: () => '👩‍👩‍👧' },
  { name: 'JSON-looking text', make: () => ['null', '{"a":1}', '1e3', 'true'] },
  { name: 'a 1 MB string', make: () => 'x'.repeat(1 << 20) },
  { name: '50,000 emoji', make: () => '😀'.repeat(50_000) },
  { name: 'the words __proto__, constructor, toString', make: () => ['__proto__', 'constructor', 'toString'] },
  // numbers
  { name: 'zero', make: () => 0 },
  { name: '-0 (stored as 0)', make: () => -0, back: 0 },
  { name: '-0 nested (stored as 0)', make: () => ({ z: [-0] }), back: { z: [0] } },
  { name: 'small numbers', make: () => [1, -1, 1.5, 0.1 + 0.2, Math.PI, -2.5e-7] },
  { name: '1e308 and -1e308', make: () => [1e308, -1e308, Number.MAX_VALUE] },
  { name: 'denormals', make: () => [5e-324, -5e-324, 2.2250738585072014e-308] },
  { name: 'safe integer edges', make: () => [Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2] },
  { name: 'big integers', make: () => [2 ** 53, 2 ** 60, -(2 ** 60), 2 ** 63, 2 ** 64, 1e20, 1e21, 1326009419276674800] },
  { name: 'booleans and null', make: () => [true, false, null] },
  { name: 'null', make: () => null },
  // containers
  { name: 'empty array', make: () => [] },
  { name: 'empty object', make: () => ({}) },
  { name: 'nested empties', make: () => [[], {}, [[]], [null]] },
  { name: 'a mixed array', make: () => [1, 'a', null, true, {}, [2]] },
  { name: 'a nested object', make: () => ({ a: { b: [1, { c: 'd' }] } }) },
  { name: `arrays ${MAX_VALUE_DEPTH} deep`, make: () => nestArrays(MAX_VALUE_DEPTH), kvOnly: true },
  { name: `objects ${MAX_VALUE_DEPTH} deep`, make: () => nestObjects(MAX_VALUE_DEPTH), kvOnly: true },
  {
    name: `arrays ${MAX_VALUE_DEPTH - 1} deep (a document ${MAX_VALUE_DEPTH} deep)`,
    make: () => nestArrays(MAX_VALUE_DEPTH - 1),
  },
  { name: '10,000 numbers', make: () => Array.from({ length: 10_000 }, (_, i) => i * 1.25) },
  { name: '1,000 keys', make: () => Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])) },
  // keys that name Object.prototype members, or look like operators and paths
  {
    name: 'constructor and friends as keys',
    make: () => ({ constructor: 1, toString: 'x', valueOf: 2, hasOwnProperty: 3, prototype: 4 }),
  },
  { name: 'a toJSON key that is not a function', make: () => ({ toJSON: 5 }) },
  { name: 'odd keys', make: () => ({ '': 1, '😀': 2, 'a.b': 3, $gt: 4, '\u0000': 5, ' ': 6 }) },
  { name: 'integer-like keys', make: () => ({ 1: 'a', 0: 'b', '-1': 'c' }) },
  { name: 'a null-prototype object', make: () => Object.assign(Object.create(null) as object, { a: 1 }), back: { a: 1 } },
  // Dates become their ISO string; toJSON output is stored (checked) in place of the value
  { name: 'a Date', make: () => new Date(0), back: ISO_0 },
  { name: 'a nested Date', make: () => ({ at: [new Date(0)] }), back: { at: [ISO_0] } },
  { name: 'the last Date', make: () => new Date(8.64e15), back: '+275760-09-13T00:00:00.000Z' },
  { name: 'the first Date', make: () => new Date(-8.64e15), back: '-271821-04-20T00:00:00.000Z' },
  { name: 'a class with toJSON', make: () => ({ price: new Money(250) }), back: { price: { cents: 250, currency: 'EUR' } } },
  { name: 'toJSON returning a Date', make: () => withToJSON(() => new Date(0)), back: { v: ISO_0 } },
  {
    name: 'toJSON gets its key',
    make: () => ({ k: { toJSON: (key: string) => key }, l: [{ toJSON: (key: string) => key }] }),
    back: { k: 'k', l: ['0'] },
  },
  { name: 'a toJSON called once', make: fickle, back: { v: 'first' } },
  { name: 'undefined properties are dropped', make: () => ({ a: 1, b: undefined }), back: { a: 1 } },
];

/** Strings that sort and compare differently under UTF-16, UTF-8 or a careless collation. */
export const SORT_STRINGS: string[] = [
  '',
  'a',
  'A',
  'b',
  'ab',
  'a\u0000',
  'a\u0000b',
  '\u0000',
  'a b',
  'a%',
  'a_',
  '%',
  '_',
  '\\',
  '"',
  '\u007f',
  '\u0080',
  '\u00e9',
  'e\u0301',
  '\u07ff',
  '\u0800',
  '\ud7ff',
  '\ue000',
  '\ufffd',
  '\uffff',
  '\u{10000}',
  '😀',
  '😀a',
  '😁',
  '\u{10ffff}',
  '\u{10ffff}a',
  'zz',
  '𝄞',
];

/** Numbers whose JSON text SQLite could read back as another number. */
export const SORT_NUMBERS: number[] = [
  0,
  1,
  -1,
  1.5,
  0.1 + 0.2,
  0.3,
  Math.PI,
  1e308,
  -1e308,
  5e-324,
  -5e-324,
  2.2250738585072014e-308,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  2 ** 60,
  -(2 ** 60),
  2 ** 63,
  2 ** 64,
  1e20,
  1e21,
  1326009419276674800,
  -39246846903075210,
];
