import { describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { StrataError } from '../errors.js';
import type { Migration } from '../ops/migrate-types.js';

async function withHarness(factory: DriverFactory, fn: (h: Harness) => Promise<void>): Promise<void> {
  const h = await makeHarness(factory);
  try {
    await fn(h);
  } finally {
    await h.dispose();
  }
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return StrataError.is(error) ? error.code : 'not a StrataError';
  }
}

const MIGRATIONS: Migration[] = [
  {
    name: '001_settings',
    up: async (m) => void (await m.kv('app').set('theme', 'light')),
    down: async (m) => void (await m.kv('app').delete('theme')),
  },
  {
    name: '002_priority',
    up: async (m) => void (await m.collection('tasks').updateWhere({}, { priority: 'normal' })),
    down: async (m) =>
      void (await m.batches('tasks', { size: 1 }, async (docs, b) => {
        for (const d of docs) await b.collection('tasks').set(d.id as string, { id: d.id, title: d.title });
      })),
  },
];

/**
 * Migrations over any driver stack: applied once in name order with their `_migrations`
 * record, a throwing migration writes nothing, `down` reverts, batched walks, and SQL is
 * either run (an SQLite backend) or refused with UNSUPPORTED before anything runs.
 */
export function migrateSuite(factory: DriverFactory): void {
  describe('migrations', () => {
    it('apply once, in name order, and survive a reopen', async () => {
      await withHarness(factory, async (h) => {
        await h.store.collection('tasks').insertMany([
          { id: 'a', title: 'A' },
          { id: 'b', title: 'B' },
        ]);
        const reversed = [...MIGRATIONS].reverse();
        expect((await h.store.migrate({ migrations: reversed })).applied).toEqual(['001_settings', '002_priority']);
        // Persistent stacks are reopened: the record is in the store, not in the process.
        const store = h.store.driver.capabilities.persistent ? await h.reopen() : h.store;
        expect((await store.migrate({ migrations: MIGRATIONS })).applied).toEqual([]);
        expect(await store.collection('tasks').get('b')).toEqual({ id: 'b', title: 'B', priority: 'normal' });
        const status = await store.migrations.status();
        expect(status.map((s) => [s.name, s.state])).toEqual([
          ['001_settings', 'applied'],
          ['002_priority', 'applied'],
        ]);
        expect(await store.migrations.down({ to: null })).toEqual({ reverted: ['002_priority', '001_settings'] });
        expect(await store.collection('tasks').get('b')).toEqual({ id: 'b', title: 'B' });
        expect(await store.kv('app').get('theme')).toBeNull();
      });
    });

    it('a migration that throws after writing leaves no write and no record', async () => {
      await withHarness(factory, async (h) => {
        await h.store.kv('app').set('theme', 'dark');
        const failing: Migration = {
          name: '003_fails',
          up: async (m) => {
            await m.kv('app').set('theme', 'light');
            await m.kv('app').set('extra', 1);
            throw new Error('half way');
          },
        };
        expect(await codeOf(h.store.migrate({ migrations: [failing] }))).toBe('MIGRATION_FAILED');
        expect(await h.store.kv('app').get('theme')).toBe('dark');
        expect(await h.store.kv('app').get('extra')).toBeNull();
        expect((await h.store.migrations.status()).map((s) => s.state)).toEqual(['pending']);
      });
    });

    it('SQL runs on an SQLite backend and is UNSUPPORTED elsewhere, before anything runs', async () => {
      await withHarness(factory, async (h) => {
        const ran: string[] = [];
        const code = await codeOf(
          h.store.migrate({
            migrations: [
              { name: '001', up: async () => void ran.push('001') },
              { name: '002', up: 'CREATE TABLE conformance_t (a INTEGER)' },
            ],
          }),
        );
        if (code === undefined) {
          expect(ran).toEqual(['001']);
          expect((await h.store.verify()).ok).toBe(true);
        } else {
          expect(code).toBe('UNSUPPORTED');
          expect(ran).toEqual([]);
          expect((await h.store.migrations.status()).map((s) => s.state)).toEqual(['pending', 'pending']);
        }
      });
    });

    it('refuses unknown options and bad migrations with BAD_INPUT', async () => {
      await withHarness(factory, async (h) => {
        const up = async (): Promise<void> => {};
        expect(await codeOf(h.store.migrate({ migrations: [] }, { force: true } as never))).toBe('BAD_INPUT');
        expect(
          await codeOf(
            h.store.migrate({
              migrations: [
                { name: 'x', up },
                { name: 'x', up },
              ],
            }),
          ),
        ).toBe('BAD_INPUT');
        expect(await codeOf(h.store.migrate({ migrations: [{ name: 'x', up: null }] } as never))).toBe('BAD_INPUT');
        expect(await codeOf(h.store.migrations.down({ to: 'missing', source: { migrations: [] } }))).toBe('NOT_FOUND');
      });
    });
  });
}
