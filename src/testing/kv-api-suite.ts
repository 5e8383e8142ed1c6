import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

/**
 * The kv and store API added for issue 7: defaults, deleteMany, drop, live-only names and
 * counts, options checked at run time, remembered collection declarations, settings views.
 */
export function kvApiSuite(factory: DriverFactory): void {
  describe('kv and store API', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('get returns the call default, then the namespace default, then null', async () => {
      const kv = h.store.kv('app', { defaults: { theme: 'light', layout: { cols: 2 } } });
      expect(await kv.get('theme')).toBe('light');
      expect(await kv.get('theme', { default: 'blue' })).toBe('blue');
      expect(await kv.get('missing')).toBeNull();
      expect(await kv.get('missing', { default: 0 })).toBe(0);
      await kv.set('theme', 'dark');
      expect(await kv.get('theme', { default: 'blue' })).toBe('dark');
      expect(await kv.getMany(['theme', 'layout', 'missing'])).toEqual(['dark', { cols: 2 }, null]);
      // Defaults are never written and hand out copies.
      const layout = (await kv.get('layout')) as unknown as { cols: number };
      layout.cols = 9;
      expect(await kv.get('layout')).toEqual({ cols: 2 });
      expect(await kv.has('layout')).toBe(false);
      expect(await kv.count()).toBe(1);
      // The same namespace later, without options, keeps its defaults; other defaults are refused.
      expect(await h.store.kv('app').get('layout')).toEqual({ cols: 2 });
      expect(() => h.store.kv('app', { defaults: { theme: 'dark' } })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    });

    it('a default is used for expired keys too', async () => {
      const kv = h.store.kv('app', { defaults: { mode: 'a' } });
      await kv.set('mode', 'b', { ttl: 1000 });
      h.clock.advance(1001);
      expect(await kv.get('mode')).toBe('a');
    });

    it('deleteMany removes keys in one batch and counts those that existed', async () => {
      const kv = h.store.kv('k');
      await kv.setMany([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]);
      expect(await kv.deleteMany(['a', 'b', 'zz', 'a'])).toBe(2);
      expect(await kv.list()).toEqual(['c']);
      expect(await kv.deleteMany([])).toBe(0);
      await expectCode(kv.deleteMany(['c', '']), 'BAD_INPUT');
      expect(await kv.list()).toEqual(['c']);
    });

    it('names() and stats() list only spaces with live records', async () => {
      const kv = h.store.kv('gone');
      await kv.set('a', 1);
      await h.store.kv('kept').set('a', 1);
      const docs = h.store.collection('docs');
      await docs.insert({ id: 'd1' });
      expect(await h.store.names()).toEqual({ kv: ['gone', 'kept'], collections: ['docs'] });
      await kv.clear();
      await docs.deleteWhere({});
      expect(await h.store.names()).toEqual({ kv: ['kept'], collections: [] });
      const stats = await h.store.stats();
      expect(stats.kv.map((s) => s.name)).toEqual(['kept']);
      expect(stats.collections).toEqual([]);
      await h.store.kv('kept').drop();
      expect(await h.store.names()).toEqual({ kv: [], collections: [] });
      expect(await h.store.kv('kept').get('a')).toBeNull();
      // A dropped namespace comes back with the next write.
      await h.store.kv('kept').set('b', 2);
      expect((await h.store.names()).kv).toEqual(['kept']);
    });

    it('stats() counts live records only', async () => {
      const kv = h.store.kv('ttl');
      await kv.set('short', 1, { ttl: 1000 });
      await kv.set('long', 2);
      h.clock.advance(1001);
      const stats = await h.store.stats();
      expect(stats.kv).toEqual([expect.objectContaining({ name: 'ttl', records: 1 })]);
      expect(stats.records).toBe(1);
      const expired = stats.kv[0]!.expired;
      if (expired !== undefined) expect(expired).toBe(1);
      expect(await kv.count()).toBe(1);
    });

    it('refuses unknown options on every kv call', async () => {
      const kv = h.store.kv('k');
      const bad = { tll: '1m' } as never;
      await expectCode(kv.set('a', 1, bad), 'BAD_INPUT');
      await expectCode(kv.get('a', bad), 'BAD_INPUT');
      await expectCode(kv.delete('a', bad), 'BAD_INPUT');
      await expectCode(kv.list(bad), 'BAD_INPUT');
      await expectCode(kv.count(bad), 'BAD_INPUT');
      await expectCode(kv.clear(bad), 'BAD_INPUT');
      await expectCode(kv.incr('n', 1, bad), 'BAD_INPUT');
      await expectCode(kv.getMany(['a'], bad), 'BAD_INPUT');
      await expectCode(kv.setMany([['a', 1]], bad), 'BAD_INPUT');
      await expectCode(kv.deleteMany(['a'], bad), 'BAD_INPUT');
      await expectCode(
        kv.update('a', () => 1, bad),
        'BAD_INPUT',
      );
      await expectCode(kv.drop(bad), 'BAD_INPUT');
      await expectCode(kv.entries(bad).next(), 'BAD_INPUT');
      await expectCode(
        h.store.transaction(async () => 1, bad),
        'BAD_INPUT',
      );
      expect(() => h.store.kv('k', bad)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      for (const quota of [{}, { bytes: 0 }, { records: 1.5 }, { records: -1 }, { files: 1 }, 5, null, [1]]) {
        expect(() => h.store.kv('k', { quota } as never)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      }
      expect(await kv.list()).toEqual([]);
    });

    it('refuses a second declaration of a collection with other options', () => {
      h.store.collection('c', { key: 'rid', indexes: ['status'] });
      h.store.collection('c', { key: 'rid', indexes: ['status'] });
      h.store.collection('c');
      for (const other of [{ key: 'id' }, { key: 'rid' }, { key: 'rid', indexes: ['status'], timestamps: true }]) {
        expect(() => h.store.collection('c', other)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
      }
      expect(() => h.store.collection('c', { key: 'rid', indexes: ['status'], ttl: '1d' })).toThrow(
        expect.objectContaining({ code: 'BAD_INPUT' }),
      );
    });

    it('remembers a collection declaration in the store', async () => {
      const docs = h.store.collection('deployments', { key: 'recordId', indexes: ['status'], timestamps: true });
      expect(await h.store.describe('deployments')).toEqual({
        key: 'recordId',
        indexes: ['status'],
        timestamps: true,
        ttl: null,
      });
      await docs.insert({ recordId: 'r1', status: 'ok' });
      expect(await h.store.describe('nothing')).toBeNull();
      // Another store on the same location (another process for shared backends) sees it.
      if (!h.store.driver.capabilities.persistent) return;
      const other = await h.reopen();
      expect(await other.describe('deployments')).toEqual({
        key: 'recordId',
        indexes: ['status'],
        timestamps: true,
        ttl: null,
      });
      const again = other.collection('deployments');
      await again.set('r2', { status: 'new' });
      expect(await again.get('r2')).toMatchObject({ recordId: 'r2', status: 'new' });
      expect(await again.get('r2')).not.toHaveProperty('id');
      expect(await again.get('r2')).toHaveProperty('createdAt');
      // Transactions' handles use it too.
      await other.transaction(async (tx) => {
        await tx.collection('deployments').set('r3', { status: 'tx' });
      });
      expect(await again.get('r3')).toMatchObject({ recordId: 'r3', status: 'tx' });
      expect((await other.names()).collections).toEqual(['deployments']);
      // A new declaration replaces the remembered one.
      await other.collection('deployments', { key: 'recordId' }).count();
      expect(await other.describe('deployments')).toMatchObject({ key: 'recordId', indexes: [], timestamps: false });
    });

    it('settings: defaults, getAll, reset and a per-key view', async () => {
      const settings = h.store.settings<{ theme: string; zoom: number }>('prefs', { defaults: { theme: 'light', zoom: 1 } });
      expect(await settings.getAll()).toEqual({ theme: 'light', zoom: 1 });
      await settings.set('zoom', 2);
      await settings.set({ theme: 'dark' });
      expect(await settings.getAll()).toEqual({ theme: 'dark', zoom: 2 });
      await settings.reset('zoom');
      expect(await settings.get('zoom')).toBe(1);
      await settings.reset();
      expect(await settings.getAll()).toEqual({ theme: 'light', zoom: 1 });
      expect(await h.store.kv('prefs').count()).toBe(0);
      await expectCode(settings.set('zoom', undefined as never), 'BAD_INPUT');
    });
  });
}
