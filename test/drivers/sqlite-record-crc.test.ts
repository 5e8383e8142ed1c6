// recordCrc folds the key and stamp in JS and continues with zlib over the value: it must
// give exactly the CRC-32 of the documented canonical text (reads, verify, upgrades and the
// SQL function strata_crc compute it that way) for every kind of key, value and stamp.
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { recordCrc } from '../../src/drivers/sqlite-checksum.js';

const canonical = (key: string, value: string, updatedAt: number, expiresAt: number | null): number =>
  crc32(`${key}\u0000${updatedAt} ${expiresAt ?? ''} ${value}`);

describe('sqlite recordCrc', () => {
  it('equals the CRC-32 of the canonical record text', () => {
    const keys = [
      '',
      'a',
      'dep-0000042',
      'k'.repeat(64),
      'k'.repeat(65),
      'x'.repeat(300),
      'é',
      'ключ',
      'a\u0000b',
      '😀key',
      'a\u007fb',
    ];
    const values = ['', '"x"', '{"a":1}', JSON.stringify({ s: 'ü'.repeat(40) }), '"\u0080"', 'v'.repeat(5000)];
    const stamps: Array<[number, number | null]> = [
      [1_700_000_000_000, null],
      [1_700_000_000_000, 1_700_000_060_000],
      [1_700_000_000_001, null],
      [0, 0],
      [1.5, 2.25],
      [-0, null],
      [1e21, null],
    ];
    let checked = 0;
    for (const [updatedAt, expiresAt] of stamps) {
      for (const key of keys) {
        for (const value of values) {
          expect(recordCrc(key, value, updatedAt, expiresAt)).toBe(canonical(key, value, updatedAt, expiresAt));
          checked++;
        }
      }
    }
    expect(checked).toBe(stamps.length * keys.length * values.length);
  });

  it('does not carry a stamp over from the previous record', () => {
    // Alternating stamps exercise the per-batch stamp cache.
    for (let i = 0; i < 200; i++) {
      const updatedAt = 1_700_000_000_000 + (i % 3);
      const expiresAt = i % 2 === 0 ? null : updatedAt + i;
      expect(recordCrc(`k${i}`, `"${i}"`, updatedAt, expiresAt)).toBe(canonical(`k${i}`, `"${i}"`, updatedAt, expiresAt));
    }
  });
});
