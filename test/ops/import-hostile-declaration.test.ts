// A collection declaration (meta.collections) that the live `store.collection(name, options)`
// refuses, read from an export file or brought back by a restore. README "Export and import":
// "Import checks the whole file before it writes anything ... a damaged or hostile file is
// refused ... naming the line, and the store is unchanged."
//
// Before the fix (audit test/audit-readme, finding 1) these failed: the import checked only the
// declaration's types, so an index path such as `a'b`, `__proto__` or `a..b`, a key field
// `a.b` or a ttl past the Date range was written on memory: and file: (on sqlite: `a'b` and
// `a..b` were refused only after the load had committed), and every later
// `store.collection(name)` threw BAD_INPUT, in this process and after a reopen: the collection
// and its documents were out of reach. A declaration keyed by a name no collection can have
// (`a b`) was likewise written before the import failed.
//
// Now a declaration goes through the same checks as the live call (checkDeclared in
// src/collection-specs.ts) in the check pass: CORRUPT naming the line (a declaration is an
// internal record, like meta.crypto), BAD_INPUT for a bad collection name (like a bad
// `c.<name>` space header), nothing written. A restored backup is exact, so a declaration it
// brings back is checked where it is read: CORRUPT when the collection is used, with a hint
// whose advice (declare it with options) rewrites it.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bottomDriver } from '../../src/ops/image.js';
import { StrataError } from '../../src/errors.js';
import { DRIVERS, errorOf, opened, type Opened } from '../store-fixture.js';
import { craftExport } from '../fixtures/craft-export.js';

const valid = { key: 'id', indexes: [], timestamps: false, ttl: null };

/** Declarations the live call refuses (or that are not what Strata writes), each with what the message names. */
const HOSTILE: Array<[string, Record<string, unknown>, RegExp]> = [
  ["index path with a quote (a'b)", { ...valid, indexes: ["a'b"] }, /field path "a'b" is not well-formed/],
  ['index path __proto__', { ...valid, indexes: ['__proto__'] }, /field path "__proto__"/],
  ['index path constructor.x', { ...valid, indexes: ['constructor.x'] }, /field path "constructor.x"/],
  ['index path a..b', { ...valid, indexes: ['a..b'] }, /field path "a..b"/],
  ['empty index path', { ...valid, indexes: ['ok', ''] }, /field path ""/],
  ['index path of 513 characters', { ...valid, indexes: ['a'.repeat(513)] }, /field path "a{513}"/],
  ['ttl 1e300 ms', { ...valid, ttl: 1e300 }, /ttl 1e\+300 is longer than the maximum/],
  ['ttl one past the Date range', { ...valid, ttl: 8.64e15 + 1 }, /longer than the maximum/],
  ['ttl 0', { ...valid, ttl: 0 }, /ttl 0 is not a positive duration/],
  ['ttl -5', { ...valid, ttl: -5 }, /not a positive duration/],
  ['key field a.b', { ...valid, key: 'a.b' }, /key field must be a top-level field/],
  ['key field constructor', { ...valid, key: 'constructor' }, /field path "constructor"/],
  ['key field with a quote', { ...valid, key: "i'd" }, /field path "i'd"/],
  ['empty key field', { ...valid, key: '' }, /field path ""/],
  ['an unknown field', { ...valid, unique: ['a'] }, /not exactly key, indexes, timestamps, ttl/],
  ['a missing field', { key: 'id', indexes: [], timestamps: false }, /not exactly key, indexes, timestamps, ttl/],
  ['ttl as a string', { ...valid, ttl: '1d' }, /ttl a number or null/],
];

describe.each(DRIVERS)('import of a hostile collection declaration (%s)', (driver) => {
  let o: Opened | undefined;
  afterEach(async () => {
    await o?.dispose();
    o = undefined;
  });

  it.each(HOSTILE)('%s: CORRUPT naming the line, nothing written, the collection usable', async (_label, spec, reason) => {
    o = await opened(driver);
    await o.store.collection('tasks').insert({ id: 'old', a: 0 });
    const file = join(o.dir, 'hostile.strata');
    craftExport(file, [
      ['meta.collections', [['tasks', spec]]],
      ['c.tasks', [['d1', { id: 'd1', a: 1 }]]],
    ]);

    const refused = await errorOf(o.store.import(file, { mode: 'merge' }));
    expect(refused).toBeInstanceOf(StrataError);
    const e = refused as StrataError;
    expect(e.code, e.message).toBe('CORRUPT');
    expect(e.op).toBe('store.import');
    expect(e.message).toMatch(/line 3 of the export file: the declaration of collection "tasks" is damaged: /);
    expect(e.message).toMatch(reason);
    expect(e.hint).toMatch(/nothing was imported/);
    expect(e.details).toMatchObject({ line: 3, space: 'meta.collections', key: 'tasks' });

    // Nothing remembered (below every layer, sqlite's committed rows included), the old document readable.
    expect(await bottomDriver(o.store).scan('meta.collections', {}, Date.now())).toEqual([]);
    expect(await o.store.describe('tasks')).toBeNull();
    expect(await o.store.collection('tasks').get('old')).toEqual({ id: 'old', a: 0 });
    expect(await o.store.collection('tasks').get('d1')).toBeNull();
    if (driver !== 'memory') {
      const again = await o.open();
      expect(await again.collection('tasks').get('old')).toEqual({ id: 'old', a: 0 });
      expect(await again.describe('tasks')).toBeNull();
    }
  });

  it('a declaration at the limits the live call accepts is imported, and the target uses it', async () => {
    o = await opened(driver);
    const spec = { key: 'sku', indexes: ['a.b', 'x-y', '$z', 'a'.repeat(512)], timestamps: true, ttl: 8.64e15 };
    const file = join(o.dir, 'edge.strata');
    craftExport(file, [
      ['meta.collections', [['tasks', spec]]],
      ['c.tasks', [['s1', { sku: 's1', a: { b: 1 } }]]],
    ]);
    await o.store.import(file);
    expect(await o.store.describe('tasks')).toEqual(spec);
    expect(await o.store.collection('tasks').query({ 'a.b': 1 })).toEqual([{ sku: 's1', a: { b: 1 } }]);
  });

  it('a declaration keyed by a name no collection can have is BAD_INPUT naming the line, nothing written', async () => {
    o = await opened(driver);
    for (const name of ['a b', '__proto__', '.hidden', 'x'.repeat(129)]) {
      const file = join(o.dir, 'named.strata');
      craftExport(file, [['meta.collections', [[name, valid]]]]);
      const e = (await errorOf(o.store.import(file))) as StrataError;
      expect(e).toBeInstanceOf(StrataError);
      expect(e.code, e.message).toBe('BAD_INPUT');
      expect(e.message).toMatch(/line 3 of the export file: a collection declaration is keyed by .*, not a collection name/);
      expect(await bottomDriver(o.store).scan('meta.collections', {}, Date.now())).toEqual([]);
    }
  });
});

describe.each(DRIVERS)('a restored backup that holds a hostile declaration (%s)', (driver) => {
  let o: Opened | undefined;
  afterEach(async () => {
    await o?.dispose();
    o = undefined;
  });

  it('restores exactly; using the collection is CORRUPT with a hint, and declaring it as the hint says rewrites it', async () => {
    o = await opened(driver);
    await o.store.collection('tasks').insert({ id: 'old', a: 0 });
    // What a hand-edited store (or a backup rewritten with matching checksums) holds: the
    // store wrote `tasks` with the default declaration, then its record was replaced.
    await bottomDriver(o.store).batch(
      [
        {
          type: 'put',
          space: 'meta.collections',
          key: 'tasks',
          value: JSON.stringify({ ...valid, indexes: ["a'b"] }),
          expiresAt: null,
        },
      ],
      Date.now(),
    );
    const backup = await o.store.backup({ to: join(o.dir, 'backups') });
    const target = await opened(driver);
    try {
      await target.store.restore(backup.id, { dir: join(o.dir, 'backups') });
      // Not the BAD_INPUT of a path that looked like the caller's mistake: damage, with a way out.
      const used = await errorOf(Promise.resolve().then(() => target.store.collection('tasks').get('old')));
      expect(used).toBeInstanceOf(StrataError);
      expect((used as StrataError).code).toBe('CORRUPT');
      expect((used as StrataError).message).toMatch(/declaration of collection "tasks" is damaged: field path "a'b"/);
      expect((used as StrataError).hint).toMatch(/store\.collection\("tasks", \{ key, indexes \}\)/);
      const declared = target.store.collection('tasks', { key: 'id' });
      expect(await declared.get('old')).toEqual({ id: 'old', a: 0 });
      expect(await target.store.describe('tasks')).toEqual(valid);
      if (driver !== 'memory') {
        const again = await target.open();
        expect(await again.collection('tasks').get('old')).toEqual({ id: 'old', a: 0 });
      }
    } finally {
      await target.dispose();
    }
  });
});
