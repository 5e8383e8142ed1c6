// Every BAD_INPUT of the query language (filters, sorts, limits) carries a hint, on every driver.
// README.md "Errors": "Every failure you can act on is a `StrataError` with a stable `code`, the
// failed `op`, a `hint` that says what to do, and the original `cause`".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAll, seed, type Env } from './harness.js';
import type { LooseCollection } from './harness.js';

const deep = (n: number): Record<string, unknown> => (n === 0 ? { s: 'x' } : { $and: [deep(n - 1)] });

const CASES: Record<string, [filter: unknown, options?: object]> = {
  '$and nested 33 deep': [deep(33)],
  'empty $or': [{ $or: [] }],
  'NaN operand': [{ n: NaN }],
  'lone surrogate': [{ s: '\ud800' }],
  '$gt: true': [{ n: { $gt: true } }],
  '$in: "x"': [{ s: { $in: 'x' } }],
  '$exists: "yes"': [{ s: { $exists: 'yes' } }],
  '$prefix: 1': [{ s: { $prefix: 1 } }],
  '$size: -1': [{ t: { $size: -1 } }],
  'operators mixed with fields': [{ s: { $eq: 'x', y: 1 } }],
  '$ key inside a value': [{ s: { a: { $gt: 1 } } }],
  '__proto__ key in a compared object': [{ s: JSON.parse('{"__proto__":1}') }],
  'an array as the filter': [[{ s: 'x' }]],
  'null as the filter': [null],
  'sort direction 0': [{}, { sort: { s: 0 } }],
  '33 sort fields': [{}, { sort: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, 1])) }],
  'limit -1': [{}, { limit: -1 }],
};

describe('query BAD_INPUT errors carry a hint (memory:)', () => {
  let env: Env;
  let c: LooseCollection;
  beforeAll(async () => {
    env = await openAll();
    c = (await seed(env, 'hints', [{ id: 'a', s: 'x' }]))['memory'];
  });
  afterAll(async () => env?.dispose());
  it('every refused filter/sort/limit names what to do', async () => {
    const missing: string[] = [];
    for (const [name, [filter, options]] of Object.entries(CASES)) {
      try {
        await c.query(filter, options);
        missing.push(`${name}: accepted`);
      } catch (e: unknown) {
        const err = e as { code?: string; hint?: unknown } | null;
        if (err?.code !== 'BAD_INPUT' || typeof err.hint !== 'string' || err.hint === '')
          missing.push(`${name}: ${err?.code} hint=${String(err?.hint)}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
