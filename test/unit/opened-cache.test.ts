import { describe, expect, it } from 'vitest';
import { OpenedCache } from '../../src/crypto/opened-cache.js';

const opened = (text: string) => ({ space: 'kv.s', key: 'k', field: '', text });

describe('OpenedCache', () => {
  it('keeps at most its capacity, evicting the oldest first', () => {
    const cache = new OpenedCache(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) cache.add(id, opened(id));
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => cache.get(id)?.text)).toEqual([undefined, undefined, 'c', 'd', 'e']);
  });

  it('adding a ciphertext it holds replaces the entry without taking a second slot', () => {
    const cache = new OpenedCache(2);
    cache.add('a', opened('1'));
    cache.add('a', opened('2'));
    cache.add('b', opened('b'));
    expect(cache.size).toBe(2);
    expect(cache.get('a')?.text).toBe('2');
    cache.add('c', opened('c'));
    expect([cache.get('a'), cache.get('b')?.text, cache.get('c')?.text]).toEqual([undefined, 'b', 'c']);
  });

  it('stays bounded over many rounds of misses, and capacity 0 keeps nothing', () => {
    const cache = new OpenedCache(100);
    for (let i = 0; i < 10_000; i++) cache.add(`s${i % 250}`, opened(String(i)));
    expect(cache.size).toBe(100);
    const none = new OpenedCache(0);
    none.add('a', opened('a'));
    expect([none.size, none.get('a')]).toEqual([0, undefined]);
  });
});
