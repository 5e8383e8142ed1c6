// Seed 003 (desktop): "SecurityManager { validateDataIntegrity(data: any, checksum: string):
// boolean; generateChecksum(data: any): string; }". Two values that differ have different
// checksums, including what JSON would blur (a Date and its ISO string, NaN and null), so an
// altered value is never validated as intact; a value with no canonical text (a cycle, a
// BigInt, a function, a symbol, a Map) is BAD_INPUT.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { SecurityManager } from './security.js';

const sm = new SecurityManager(randomBytes(32));

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return error instanceof StrataError ? error.code : `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
  return 'accepted';
}

describe('desktop: SecurityManager integrity checksums', () => {
  it('different Dates have different checksums; an altered Date is not validated as intact', () => {
    const original = { dueAt: new Date('2026-01-01T00:00:00Z') };
    const altered = { dueAt: new Date('1999-01-01T00:00:00Z') };
    expect(sm.generateChecksum(altered)).not.toBe(sm.generateChecksum(original));
    expect(sm.validateDataIntegrity(altered, sm.generateChecksum(original))).toBe(false);
    expect(sm.validateDataIntegrity({ dueAt: new Date('2026-01-01T00:00:00Z') }, sm.generateChecksum(original))).toBe(true);
  });

  it('values JSON would write alike have different checksums', () => {
    const pairs: Array<[unknown, unknown]> = [
      [new Date('2026-01-01T00:00:00Z'), '2026-01-01T00:00:00.000Z'],
      [new Date(0), {}],
      [new Date(Number.NaN), null],
      [Number.NaN, null],
      [Infinity, null],
      [-0, 0],
      [undefined, null],
      [[undefined], [null]],
    ];
    for (const [a, b] of pairs) expect(sm.generateChecksum(a), `${String(a)} / ${String(b)}`).not.toBe(sm.generateChecksum(b));
  });

  it('plain JSON data checksums by content: key order and shared references do not matter', () => {
    const shared = { x: 1 };
    expect(sm.generateChecksum({ a: shared, b: shared })).toBe(sm.generateChecksum({ b: { x: 1 }, a: { x: 1 } }));
    expect(sm.generateChecksum({ a: 1, gone: undefined })).toBe(sm.generateChecksum({ a: 1 }));
    expect(sm.generateChecksum(Object.assign(Object.create(null), { a: 1 }))).toBe(sm.generateChecksum({ a: 1 }));
  });

  it('a value it cannot checksum (a cycle, a BigInt, a function, a symbol, a Map) is BAD_INPUT', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cyclicArray: unknown[] = [];
    cyclicArray.push([cyclicArray]);
    let deep: unknown = [];
    for (let i = 0; i < 5000; i++) deep = [deep];
    const values = [cyclic, cyclicArray, 1n, { n: 1n }, () => 1, Symbol('s'), new Map([[1, 2]]), { [Symbol('k')]: 1 }, deep];
    for (const value of values) {
      expect
        .soft(
          codeOf(() => sm.generateChecksum(value)),
          String(typeof value),
        )
        .toBe('BAD_INPUT');
      expect
        .soft(
          codeOf(() => sm.validateDataIntegrity(value, 'ab')),
          String(typeof value),
        )
        .toBe('BAD_INPUT');
    }
  });
});
