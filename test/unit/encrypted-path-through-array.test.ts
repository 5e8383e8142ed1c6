// An encrypted field path must run through objects at every depth (docs/encryption.md, "What
// is encrypted"): a document whose path meets an array, a scalar or null on the way is
// BAD_INPUT before anything is stored, so no secret below it lands in the files in plain text.
// A parent that is absent is fine. A document stored that way earlier does not stop a rotation.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Store } from '../../src/index.js';
import { rawDriver } from '../../src/testing/encryption-suite.js';
import { failure, KEY1, openAt, tempDir } from './encrypted-store-fixtures.js';

let t: ReturnType<typeof tempDir>;
let store: Store;
beforeEach(async () => {
  t = tempDir();
  store = await openAt(`sqlite:${join(t.dir, 'db.sqlite')}`, { keys: `k1:${KEY1}` });
});
afterEach(async () => {
  await store.close().catch(() => {});
  t.cleanup();
});

async function storedText(space: string, key: string): Promise<string> {
  const record = await rawDriver(store).get(space, key, Date.now());
  return record === null ? '' : record.value;
}

describe('encrypted paths that run through something other than an object', () => {
  it('a three-segment path whose first segment is an array is BAD_INPUT, and nothing is stored', async () => {
    const c = store.collection('c', { encrypt: ['a.b.c'] });
    const error = await failure(c.insert({ id: '1', a: [{ b: { c: 'SECRET-DEPTH3' } }] } as never), 'BAD_INPUT');
    expect(error.message).toMatch(/not an object/);
    expect(error.message).not.toContain('SECRET-DEPTH3');
    expect(await storedText('c.c', '1')).toBe('');
  });

  it('a numeric segment into an array (items.0.secret) is BAD_INPUT, and nothing is stored', async () => {
    const c = store.collection('c2', { encrypt: ['items.0.secret'] });
    await failure(c.insert({ id: '2', items: [{ secret: 'SECRET-NUMERIC' }] } as never), 'BAD_INPUT');
    expect(await storedText('c.c2', '2')).toBe('');
  });

  it('a scalar or null in the middle of the path is BAD_INPUT too', async () => {
    const c = store.collection('c3', { encrypt: ['a.b.c'] });
    await failure(c.insert({ id: 's', a: 'text' } as never), 'BAD_INPUT');
    await failure(c.insert({ id: 'n', a: { b: null } } as never), 'BAD_INPUT');
    await failure(c.insert({ id: 'x', a: { b: [{ c: 'SECRET' }] } } as never), 'BAD_INPUT');
    expect(await c.count()).toBe(0);
  });

  it('an absent parent at any depth is fine, and the field is encrypted where it is present', async () => {
    const c = store.collection('c4', { encrypt: ['a.b.c'] });
    await c.insert({ id: '1', other: 1 } as never);
    await c.insert({ id: '2', a: {} } as never);
    await c.insert({ id: '3', a: { b: { c: 'SECRET-PRESENT' } } } as never);
    expect(await c.get('3')).toEqual({ id: '3', a: { b: { c: 'SECRET-PRESENT' } } });
    expect(await storedText('c.c4', '3')).not.toContain('SECRET-PRESENT');
    expect(await c.get('2')).toEqual({ id: '2', a: {} });
  });

  it('a document stored through an array before is refused on read and listed in failed by rotateKeys', async () => {
    const c = store.collection('c5', { encrypt: ['a.b.c'] });
    await c.insert({ id: 'good', a: { b: { c: 'fine' } } } as never);
    await rawDriver(store).batch(
      [{ type: 'put', space: 'c.c5', key: 'old', value: JSON.stringify({ id: 'old', a: [{ b: { c: 'x' } }] }), expiresAt: null }],
      Date.now(),
      { results: false },
    );
    await failure(c.get('old'), 'BAD_INPUT');
    const report = await store.rotateKeys();
    expect(report.failed.map((f) => `${f.code} ${f.space} ${f.key}`)).toEqual(['BAD_INPUT c.c5 old']);
    expect(await c.get('good')).toEqual({ id: 'good', a: { b: { c: 'fine' } } });
  });
});
