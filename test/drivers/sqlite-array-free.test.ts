import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { explainScan, sqliteDriver } from '../../src/drivers/sqlite.js';
import type { Driver } from '../../src/drivers/driver.js';
import { parseFilter } from '../../src/query/parse.js';

// Array semantics make a filter on a field also read the rows where it holds an array; an
// indexed top-level field that holds none (probed in the scan's snapshot) keeps the plain
// index range, so equality pages come out of the index in order.
describe('sqlite: array-free indexed fields', () => {
  let dir: string;
  let store: Store;
  /** The sqlite driver itself: `store.driver` is the stack over it, which explainScan does not take. */
  let driver: Driver;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-af-'));
    driver = sqliteDriver({ path: join(dir, 's.db') });
    store = await openStore({ driver });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an equality filter in index order while no record holds an array, and finds arrays once one does', async () => {
    const docs = store.collection('docs', { indexes: ['status'] });
    await docs.upsertMany(
      Array.from({ length: 200 }, (_, i) => ({ id: `d${String(i).padStart(3, '0')}`, status: i % 2 ? 'a' : 'b' })),
    );
    const plan = explainScan(driver, 'c.docs', { filter: parseFilter({ status: 'a' }), limit: 10 }).join('\n');
    expect(plan).toMatch(/USING INDEX/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
    expect(await docs.query({ status: 'a' }, { limit: 3 })).toHaveLength(3);
    await docs.insert({ id: 'arr', status: ['x', 'a'] });
    const keys = (await docs.query({ status: 'a' })).map((d) => d.id);
    expect(keys).toHaveLength(101);
    expect(keys).toContain('arr');
    expect(await docs.count({ status: 'a' })).toBe(101);
    expect(await docs.count({ status: { $ne: 'a' } })).toBe(100);
  });

  it('sees an array another connection wrote after the answer "no arrays" was kept', async () => {
    const docs = store.collection('docs', { indexes: ['status'] });
    await docs.upsertMany([
      { id: 'a', status: 'x' },
      { id: 'b', status: 'y' },
    ]);
    expect((await docs.query({ status: 'x' })).map((d) => d.id)).toEqual(['a']); // probes, keeps "no arrays"
    const other = await openStore(`sqlite:${join(dir, 's.db')}`);
    await other.collection('docs').insert({ id: 'c', status: ['x', 'z'] });
    await other.close();
    expect((await docs.query({ status: 'x' })).map((d) => d.id)).toEqual(['a', 'c']);
    expect(await docs.count({ status: 'x' })).toBe(2);
  });
});
