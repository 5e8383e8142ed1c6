// Filters and sorts must be plain objects: a Map, a Date, a RegExp, an object whose fields sit
// on its prototype (`{ __proto__: {...} }`) or one with symbol keys has no own entries, and
// would otherwise read as "match everything" (deleteWhere would delete everything) or "no sort".
//
// README.md "Collections" / Filters: "An unknown operator (`$where`, `$regex`...) or a malformed
// path is `BAD_INPUT`, never a silent match-all; ..." and "**Options are checked**: ... an
// option of the wrong type is `BAD_INPUT`". Checked in src/query/parse.ts (isPlain).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS, openAll, seed, outcome, type Env } from './harness.js';
import type { DriverName, LooseCollection } from './harness.js';

const DOCS = [
  { id: 'a', status: 'done' },
  { id: 'b', status: 'todo' },
];

describe('non-plain filters must be BAD_INPUT, not match-all', () => {
  let env: Env;
  let c: Record<DriverName, LooseCollection>;
  beforeAll(async () => {
    env = await openAll();
    c = await seed(env, 'shape', DOCS, ['status']);
  });
  afterAll(async () => env?.dispose());

  const filters: Record<string, () => unknown> = {
    'a Map': () => new Map([['status', 'nope']]),
    'a Date': () => new Date(0),
    'a RegExp': () => /nope/,
    'an object literal with a __proto__ field': () => ({ __proto__: { status: 'nope' } }),
    'a symbol-keyed object': () => ({ [Symbol('status')]: 'nope' }),
  };
  for (const d of DRIVERS) {
    for (const [name, make] of Object.entries(filters)) {
      it(`${d}: query/count with ${name} as the filter is BAD_INPUT`, async () => {
        expect(await outcome(() => c[d].query(make()))).toMatchObject({ code: 'BAD_INPUT' });
        expect(await outcome(() => c[d].count(make()))).toMatchObject({ code: 'BAD_INPUT' });
      });
    }
    it(`${d}: deleteWhere(new Map(...)) deletes nothing (it deletes every document today)`, async () => {
      const x = await outcome(() => c[d].deleteWhere(new Map([['status', 'nope']])));
      const left = await c[d].count({});
      await c[d].upsertMany(DOCS); // put them back for the tests that follow
      expect({ outcome: x, left }).toMatchObject({ outcome: { code: 'BAD_INPUT' }, left: DOCS.length });
    });
    it(`${d}: a Map or a __proto__-carried sort is BAD_INPUT, not silently key order`, async () => {
      expect(await outcome(() => c[d].query({}, { sort: new Map([['status', -1]]) }))).toMatchObject({ code: 'BAD_INPUT' });
      expect(await outcome(() => c[d].query({}, { sort: { __proto__: { status: -1 } } }))).toMatchObject({ code: 'BAD_INPUT' });
    });
  }
});
