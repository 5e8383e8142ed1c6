import { describe, expect, it } from 'vitest';
import { encodeJson, MAX_VALUE_DEPTH, parseJson } from '../../src/codec/json.js';
import { expiryFrom, MAX_TIME_MS, MAX_TIMER_MS, parseDuration } from '../../src/codec/duration.js';
import { checkKey, checkPrefix } from '../../src/codec/keys.js';
import { StrataError } from '../../src/errors.js';
import { openStore } from '../../src/index.js';
import { ACCEPTED, nestArrays, nestObjects, REFUSED } from '../../src/testing/value-table.js';
import { rng } from '../rng.js';

function failure(fn: () => unknown): StrataError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    return error as StrataError;
  }
  throw new Error('expected a StrataError');
}

const pathOf = (value: unknown): unknown => failure(() => encodeJson(value)).details?.path;

describe('encodeJson', () => {
  it('refuses every value of the table with BAD_INPUT and a path, and encodes every accepted one', () => {
    for (const c of REFUSED) expect(failure(() => encodeJson(c.make())).code, c.name).toBe('BAD_INPUT');
    for (const c of ACCEPTED) {
      const back = 'back' in c ? c.back : c.make();
      expect(parseJson(encodeJson(c.make())), c.name).toStrictEqual(back);
    }
  });

  it('names the path of the bad part, quoting keys that are not identifiers', () => {
    expect(pathOf({ x: new Number(Number.NaN) })).toBe('value.x');
    expect(pathOf({ a: [1, { b: new Uint8Array(1) }] })).toBe('value.a[1].b');
    expect(pathOf({ 'a b': { ['k\ud800']: 1 } })).toBe('value["a b"]["k\\ud800"]');
    expect(pathOf({ list: ['ok', 'x\udfff'] })).toBe('value.list[1]');
    expect(pathOf({ m: { toJSON: () => ({ deep: [Number.NaN] }) } })).toBe('value.m.deep[0]');
    expect(pathOf({ p: JSON.parse('{"__proto__": 1}') })).toBe('value.p');
    const cycle: Record<string, unknown> = { a: {} };
    (cycle.a as Record<string, unknown>).back = cycle;
    expect(pathOf(cycle)).toBe('value.a.back');
    expect(pathOf(nestArrays(MAX_VALUE_DEPTH + 1))).toBe(`value${'[0]'.repeat(MAX_VALUE_DEPTH)}`);
  });

  it(`allows exactly ${MAX_VALUE_DEPTH} levels, and refuses 100,000 without a stack overflow`, () => {
    expect(encodeJson(nestArrays(MAX_VALUE_DEPTH))).toBe(`${'['.repeat(MAX_VALUE_DEPTH)}1${']'.repeat(MAX_VALUE_DEPTH)}`);
    expect(() => encodeJson(nestObjects(MAX_VALUE_DEPTH))).not.toThrow();
    expect(failure(() => encodeJson(nestObjects(MAX_VALUE_DEPTH + 1))).code).toBe('BAD_INPUT');
    // A Date is not a container: at the deepest level it is still fine.
    expect(() => encodeJson(nestArrays(MAX_VALUE_DEPTH, new Date(0)))).not.toThrow();
    for (const deep of [nestArrays(100_000), nestObjects(100_000), nestArrays(50_000, nestObjects(50_000))]) {
      const started = performance.now();
      expect(failure(() => encodeJson(deep)).code).toBe('BAD_INPUT');
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it('calls each toJSON exactly once, with its key, and keeps the cause of one that throws', () => {
    const calls: string[] = [];
    const probe = { toJSON: (key: string) => (calls.push(key), { ok: true }) };
    expect(encodeJson({ a: probe, b: [probe] })).toBe('{"a":{"ok":true},"b":[{"ok":true}]}');
    expect(calls).toEqual(['a', '0']);
    calls.length = 0;
    expect(encodeJson(probe)).toBe('{"ok":true}');
    expect(calls).toEqual(['']);
    const boom = new Error('boom');
    const error = failure(() =>
      encodeJson({
        t: {
          toJSON: () => {
            throw boom;
          },
        },
      }),
    );
    expect(error.code).toBe('BAD_INPUT');
    expect(error.cause).toBe(boom);
    expect(error.details?.path).toBe('value.t');
  });

  it('stores own enumerable string keys only, as JSON does', () => {
    const value = Object.defineProperty({ a: 1, [Symbol('s')]: 2 }, 'hidden', { value: 3, enumerable: false });
    expect(encodeJson(value)).toBe('{"a":1}');
    expect(encodeJson({ a: 1, b: undefined })).toBe('{"a":1}');
  });

  it('follows a patched Date.prototype.toJSON instead of trusting it', () => {
    const original = Date.prototype.toJSON;
    try {
      Date.prototype.toJSON = () => Number.NaN as never;
      expect(failure(() => encodeJson({ at: new Date(0) })).details?.path).toBe('value.at');
      Date.prototype.toJSON = () => 'patched';
      expect(encodeJson({ at: new Date(0) })).toBe('{"at":"patched"}');
    } finally {
      Date.prototype.toJSON = original;
    }
    const own = Object.assign(new Date(0), { toJSON: () => ({ y: 1970 }) });
    expect(encodeJson(own)).toBe('{"y":1970}');
  });

  it('is not fooled by a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    try {
      proto.polluted = Number.NaN;
      expect(encodeJson({ a: 1 })).toBe('{"a":1}');
      proto.toJSON = () => 'hijacked';
      expect(encodeJson({ a: 1 })).toBe('"hijacked"'); // what JSON.stringify would do, and checked
      proto.toJSON = () => Number.NaN;
      expect(failure(() => encodeJson({ a: 1 })).code).toBe('BAD_INPUT');
      delete proto.toJSON;
      // A toJSON that answers well once: called once, so its second answer is never written.
      const arrays = Array.prototype as unknown as Record<string, unknown>;
      let calls = 0;
      arrays.toJSON = () => (calls++ === 0 ? 'once' : Number.NaN);
      expect(encodeJson({ list: [1, 2] })).toBe('{"list":"once"}');
      expect(calls).toBe(1);
      delete arrays.toJSON;
    } finally {
      delete proto.polluted;
      delete proto.toJSON;
      delete (Array.prototype as unknown as Record<string, unknown>).toJSON;
    }
  });

  it('writes exactly what JSON.stringify writes for plain data, and only ever throws StrataError', () => {
    const r = rng(606);
    const atoms: unknown[] = ['', 'a', '😀', '\u0000', 'é', 0, -1.5, 1e21, 5e-324, true, false, null, new Date(1e12)];
    const hostile: unknown[] = [Number.NaN, undefined, 1n, '\ud800', new Map(), new Uint8Array(1), () => 1, Symbol('x')];
    const build = (depth: number, bad: boolean): unknown => {
      const roll = r();
      if (depth > 4 || roll < 0.35)
        return bad && r() < 0.05 ? hostile[Math.floor(r() * hostile.length)] : atoms[Math.floor(r() * atoms.length)];
      if (roll < 0.65) return Array.from({ length: Math.floor(r() * 4) }, () => build(depth + 1, bad));
      return Object.fromEntries(
        Array.from({ length: Math.floor(r() * 4) }, (_, i) => [`k${i}${atoms[i % 3] as string}`, build(depth + 1, bad)]),
      );
    };
    for (let i = 0; i < 2000; i++) {
      const value = build(0, false);
      expect(encodeJson(value)).toBe(JSON.stringify(value));
    }
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const value = build(0, true);
      try {
        expect(parseJson(encodeJson(value))).toStrictEqual(JSON.parse(JSON.stringify(value)) as unknown);
      } catch (error) {
        expect(error).toBeInstanceOf(StrataError);
        expect((error as StrataError).code).toBe('BAD_INPUT');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});

describe('durations', () => {
  it('parses numbers and unit strings', () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration(' 1.5s ')).toBe(1500);
    expect(parseDuration('2w')).toBe(1_209_600_000);
    expect(parseDuration(MAX_TIME_MS)).toBe(MAX_TIME_MS);
  });

  it('refuses what is not a positive finite duration within the range of a Date', () => {
    const bad: unknown[] = [
      0,
      -1,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      1e300,
      MAX_TIME_MS + 1,
      '1e3s',
      '-5s',
      '.5s',
      '10 minutes',
    ];
    bad.push(`${'9'.repeat(400)}w`, `${'9'.repeat(20)}w`, '', 'ms', null, undefined, 10n, {}, [1], true);
    for (const input of bad) expect(failure(() => parseDuration(input, 'ttl')).code, String(input)).toBe('BAD_INPUT');
    expect(failure(() => parseDuration(1e300, 'ttl')).details).toEqual({ max: MAX_TIME_MS });
    expect(failure(() => parseDuration('30d', 'sweepInterval', MAX_TIMER_MS)).details).toEqual({ max: MAX_TIMER_MS });
    expect(parseDuration('24d', 'sweepInterval', MAX_TIMER_MS)).toBe(2_073_600_000);
  });

  it('turns a ttl into a whole-millisecond expiry that is always a valid Date', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(expiryFrom(now, 1000)).toBe(now + 1000);
    expect(expiryFrom(now, 0.5)).toBe(now + 1);
    expect(expiryFrom(now, MAX_TIME_MS - now)).toBe(MAX_TIME_MS);
    expect(new Date(expiryFrom(now, MAX_TIME_MS - now)).getTime()).toBe(MAX_TIME_MS);
    const late = failure(() => expiryFrom(now, MAX_TIME_MS - now + 1));
    expect(late.code).toBe('BAD_INPUT');
    expect(late.details).toEqual({ max: MAX_TIME_MS - now });
    expect(failure(() => expiryFrom(now, MAX_TIME_MS)).code).toBe('BAD_INPUT');
    expect(failure(() => expiryFrom(Number.NaN, 1)).code).toBe('BAD_INPUT');
  });
});

describe('keys and prefixes', () => {
  it('refuses lone surrogates in keys and prefixes, accepts well-formed astral text', () => {
    for (const lone of ['\ud800', 'a\udfff', '\ude00\ud83d', '😀'.slice(0, 1)]) {
      expect(failure(() => checkKey(lone, 'kv.get')).code).toBe('BAD_INPUT');
      expect(failure(() => checkPrefix(lone, 'kv.list')).code).toBe('BAD_INPUT');
    }
    for (const bad of [1, null, {}, ['a']]) expect(failure(() => checkPrefix(bad, 'kv.list')).code).toBe('BAD_INPUT');
    expect(() => checkKey('😀\u0000𝄞', 'kv.get')).not.toThrow();
    expect(() => checkPrefix('', 'kv.list')).not.toThrow();
    expect(() => checkPrefix(undefined, 'kv.list')).not.toThrow();
    expect(() => checkPrefix('😀', 'kv.list')).not.toThrow();
  });
});

describe('a value whose getter throws', () => {
  it('is BAD_INPUT with the error as cause, and nothing is written', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      const boom = new Error('getter boom');
      const value = {
        get x(): number {
          throw boom;
        },
      };
      const proxy = new Proxy(
        {},
        {
          ownKeys() {
            throw boom;
          },
        },
      );
      for (const bad of [value, { nested: [value] }, proxy]) {
        const error = await store
          .kv('v')
          .set('k', bad)
          .catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'BAD_INPUT', cause: boom });
      }
      const c = store.collection('c');
      await expect(c.insert({ id: 'a', v: value })).rejects.toMatchObject({ code: 'BAD_INPUT' });
      expect(await store.kv('v').has('k')).toBe(false);
      expect(await c.count()).toBe(0);
    } finally {
      await store.close();
    }
  });
});
