import { describe, expect, it } from 'vitest';
import { parseJson } from '../../src/codec/json.js';

const hasOwnProto = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, '__proto__');

describe('parseJson', () => {
  it('drops __proto__ keys at any depth, however the key is spelt in the text', () => {
    for (const text of [
      '{"__proto__": {"polluted": true}, "a": 1}',
      '{"\\u005f_proto__": {"polluted": true}, "a": 1}',
      '{"\\u005F\\u005Fproto\\u005F\\u005F": {"polluted": true}, "a": 1}',
      '{"_\\u005fproto__": {"polluted": true}, "a": 1}',
    ]) {
      const value = parseJson(text) as Record<string, unknown>;
      expect(hasOwnProto(value), text).toBe(false);
      expect(value.a).toBe(1);
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    }
    const nested = parseJson('{"list": [{"\\u005f_proto__": 1, "b": 2}], "o": {"__proto__": {"x": 1}}}') as {
      list: Array<Record<string, unknown>>;
      o: Record<string, unknown>;
    };
    expect(hasOwnProto(nested.list[0])).toBe(false);
    expect(nested.list[0]!.b).toBe(2);
    expect(hasOwnProto(nested.o)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps the text "__proto__" and escaped characters inside values', () => {
    expect(parseJson('{"note": "see __proto__ and \\u00e9"}')).toEqual({ note: 'see __proto__ and é' });
    expect(parseJson('["__proto__"]')).toEqual(['__proto__']);
    expect(parseJson('"\\u0000"')).toBe('\u0000');
  });
});
