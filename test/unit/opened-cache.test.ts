import { describe, expect, it } from 'vitest';
import { OpenedCache } from '../../src/crypto/opened-cache.js';

const read = (cache: OpenedCache, key: string, sealed = `sealed-${key}`) => cache.get('kv.s', '', key, sealed);

describe('OpenedCache', () => {
  it('keeps at most its capacity, evicting the oldest first', () => {
    const cache = new OpenedCache(3);
    for (const key of ['a', 'b', 'c', 'd', 'e']) cache.add('kv.s', '', key, `sealed-${key}`, key.toUpperCase());
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((key) => read(cache, key))).toEqual([undefined, undefined, 'C', 'D', 'E']);
  });

  it('answers only for the record and the exact ciphertext it opened', () => {
    const cache = new OpenedCache(10);
    cache.add('kv.s', 'f', 'a', 'sealed-a', 'A');
    expect(cache.get('kv.s', 'f', 'a', 'sealed-a')).toBe('A');
    expect(cache.get('kv.s', 'f', 'a', 'sealed-a2')).toBeUndefined();
    expect(cache.get('kv.s', '', 'a', 'sealed-a')).toBeUndefined();
    expect(cache.get('kv.t', 'f', 'a', 'sealed-a')).toBeUndefined();
    expect(cache.get('kv.s', 'f', 'b', 'sealed-a')).toBeUndefined();
  });

  it('a record opened again holds one entry, which its older slot does not evict', () => {
    const cache = new OpenedCache(2);
    cache.add('kv.s', '', 'a', 'v1', 'one');
    cache.add('kv.s', '', 'a', 'v2', 'two');
    expect([cache.size, read(cache, 'a', 'v1'), read(cache, 'a', 'v2')]).toEqual([1, undefined, 'two']);
    cache.add('kv.s', '', 'b', 'vb', 'b'); // evicts the slot of v1: a stays
    expect([cache.size, read(cache, 'a', 'v2'), read(cache, 'b', 'vb')]).toEqual([2, 'two', 'b']);
    cache.add('kv.s', '', 'c', 'vc', 'c'); // evicts the slot of v2: a goes
    expect([cache.size, read(cache, 'a', 'v2'), read(cache, 'b', 'vb'), read(cache, 'c', 'vc')]).toEqual([
      2,
      undefined,
      'b',
      'c',
    ]);
  });

  it('stays bounded over many rounds of misses, and capacity 0 keeps nothing', () => {
    const cache = new OpenedCache(100);
    for (let i = 0; i < 10_000; i++) cache.add('kv.s', '', `k${i % 250}`, `s${i}`, String(i));
    expect(cache.size).toBeLessThanOrEqual(100);
    const none = new OpenedCache(0);
    none.add('kv.s', '', 'a', 'sealed-a', 'A');
    expect([none.size, read(none, 'a')]).toEqual([0, undefined]);
  });
});
