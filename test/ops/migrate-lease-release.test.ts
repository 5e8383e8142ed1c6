// A failed run gives its migrator lease back at once: the next `store.migrate`, in the same
// process or in another one (while the failed run's process lives on), runs right away
// instead of waiting out leaseTtl (30 s by default). Timed with the default leaseTtl, so a
// lease left behind shows as a call of ~30 s (or LOCKED), far above the 10 s allowed here.
// Covered: a migration that throws (its backup restored in the same process), an onProgress
// that throws (a run stopped outside a step: it was left half done, its run record and a
// restored copy of its lease behind), and the recovery of a run whose restore point holds
// the lease record of a process that is still alive.
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, LineChild, tempDir } from '../reliability/helpers.js';
import type { Store, StrataError } from '../../src/index.js';
import type { Migration } from '../../src/ops/migrate-types.js';
import { BACKENDS, dump, open, urlFor } from './migrate-helpers.js';

const WORKER = fixture('migrate-worker.mjs');
const LOCK = 'meta.migrations-lock';
const FAST_MS = 10_000;

const ok: Migration = { name: '001_ok', up: async (m) => void (await m.kv('app').set('ok', true)) };
const throws: Migration = {
  name: '002_throws',
  up: async (m) => {
    await m.kv('app').set('half', true);
    throw new Error('half way');
  },
};

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = Date.now();
  const value = await fn();
  return { ms: Date.now() - started, value };
}

const failure = (p: Promise<unknown>): Promise<StrataError> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as StrataError,
  );

describe.each(BACKENDS)('after a failed run on %s, the lease is free at once', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir('migrate-lease-release');
    store = await open(urlFor(backend, dir.path));
    await store.kv('app').set('theme', 'dark');
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  it('a migration that throws: restored, and the next migrate in this process runs at once', { timeout: 120_000 }, async () => {
    const before = await dump(store, backend, dir.path);
    const error = await failure(store.migrate({ migrations: [ok, throws] }));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.details).toMatchObject({ migration: '002_throws', restored: true });
    expect(await dump(store, backend, dir.path)).toBe(before);
    expect(await store.driver.get(LOCK, 'lease', Date.now())).toBeNull();
    const next = await timed(() => store.migrate({ migrations: [ok] }));
    expect(next.value.applied).toEqual(['001_ok']);
    expect(next.ms).toBeLessThan(FAST_MS);
  });

  it('an onProgress that throws: rolled back, BAD_INPUT, and the next migrate runs at once', { timeout: 120_000 }, async () => {
    const before = await dump(store, backend, dir.path);
    const error = await failure(
      store.migrate(
        { migrations: [ok] },
        {
          onProgress: () => {
            throw new Error('callback');
          },
        },
      ),
    );
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toContain('store.migrate');
    // Nothing of the run is left: no data, no run record for a later run to recover.
    expect(await dump(store, backend, dir.path)).toBe(before);
    expect(await store.driver.get('meta.migrations', 'run', Date.now())).toBeNull();
    expect(await store.driver.get(LOCK, 'lease', Date.now())).toBeNull();
    const next = await timed(() => store.migrate({ migrations: [ok] }));
    expect(next.value).toMatchObject({ applied: ['001_ok'] });
    expect(next.value.recovered).toBeUndefined();
    expect(next.ms).toBeLessThan(FAST_MS);
    const again = await timed(() => store.migrate({ migrations: [ok] }));
    expect(again.value.applied).toEqual([]);
    expect(again.ms).toBeLessThan(FAST_MS);
  });

  it(
    'recovering a run whose restore point holds a live holder’s lease record does not wait for it',
    { timeout: 120_000 },
    async () => {
      // What a run left when it stopped with its process alive: its restore point was taken
      // under its lease (a record of a live process of this machine, valid for a minute more).
      const now = Date.now();
      const lease = JSON.stringify({ owner: 'other-run', process: `${hostname()}:${process.pid}`, until: now + 60_000, seq: 1 });
      await store.driver.batch([{ type: 'put', space: LOCK, key: 'lease', value: lease, expiresAt: null }], now);
      const backup = (await store.backup(backend === 'memory' ? { to: `${dir.path}/b` } : {})).path;
      const run = {
        id: 'r1',
        backup,
        lease: 'other-run',
        startedAt: now,
        process: `${hostname()}:${process.pid}`,
        current: null,
        checkpoint: null,
      };
      await store.driver.batch(
        [
          { type: 'delete', space: LOCK, key: 'lease' },
          { type: 'put', space: 'meta.migrations', key: 'run', value: JSON.stringify(run), expiresAt: null },
        ],
        Date.now(),
      );
      await store.kv('app').set('half', true);
      const next = await timed(() => store.migrate({ migrations: [ok] }));
      expect(next.value).toMatchObject({ applied: ['001_ok'], recovered: { run: 'r1', action: 'restored' } });
      expect(next.ms).toBeLessThan(FAST_MS);
      expect(await store.kv('app').get('half')).toBeNull();
      expect(await store.driver.get(LOCK, 'lease', Date.now())).toBeNull();
      const again = await timed(() => store.migrate({ migrations: [ok] }));
      expect(again.ms).toBeLessThan(FAST_MS);
    },
  );
});

describe.each(['sqlite', 'file'] as const)('after a failed run in another, living process on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  const children: LineChild[] = [];
  beforeEach(async () => {
    dir = await tempDir('migrate-lease-release-proc');
    const store = await open(urlFor(backend, dir.path));
    await store.kv('app').set('theme', 'dark');
    await store.close();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill();
    await dir.dispose();
  });

  it.each([
    ['a migration that throws', 'throws', 'MIGRATION_FAILED true'],
    ['an onProgress that throws', 'progress', 'BAD_INPUT undefined'],
  ])('%s: this process migrates at once', { timeout: 120_000 }, async (_what, mode, outcome) => {
    const url = urlFor(backend, dir.path);
    const child = new LineChild(WORKER, [url, 'fail', mode], { stdin: true });
    children.push(child);
    const line = await child.waitFor((l) => l.startsWith('F '), 30_000, 'the failed run');
    expect(line, child.stderr).toBe(`F ${outcome}`);
    const store = await open(url);
    try {
      const next = await timed(() => store.migrate({ migrations: [ok] }));
      expect(next.value.applied).toEqual(['001_ok']);
      expect(next.value.recovered).toBeUndefined();
      expect(next.ms).toBeLessThan(FAST_MS);
      expect(await store.kv('app').get('half')).toBeNull();
      expect((await store.verify()).ok).toBe(true);
    } finally {
      await store.close();
    }
    child.proc.stdin!.end();
    expect((await child.exit(30_000)).code, child.stderr).toBe(0);
  });
});
