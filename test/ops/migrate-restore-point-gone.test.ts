// A run that did not finish names its restore point in its run record. `restorePointsInUse`
// lists the backups such records still need (for `backups.prune` to keep). When the restore
// point is gone anyway (deleted by hand, or by a prune of an earlier version), the next
// migrate or down cannot undo that run: it refuses with NOT_FOUND saying so, changes nothing,
// and hints at the way on: the backup put back, or `abandonRun` naming that run (CLI:
// --abandon-run), which drops its record and keeps what it committed.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../reliability/helpers.js';
import { errorCode, requireBuild, strata as cli } from '../cli/helpers.js';
import { dump, open, urlFor } from './migrate-helpers.js';
import type { Migration, Store, StrataError } from '../../src/index.js';
import type * as RestoreApi from '../../src/ops/migrate-restore.js';

const { restorePointsInUse } = (await import(
  new URL('../../dist/ops/migrate-restore.js', import.meta.url).href
)) as typeof RestoreApi;

const RUN = '0123456789abcdef';
const base: Migration = { name: '000_base', up: async (m) => void (await m.kv('app').set('base', true)) };
const later: Migration = { name: '020_later', up: async (m) => void (await m.kv('app').set('later', true)) };

async function rejection(promise: Promise<unknown>): Promise<StrataError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as StrataError,
  );
}

/**
 * What a migrator killed in its second migration leaves: its first migration committed with
 * its record, and the run record naming the backup taken before the run.
 */
async function deadRun(store: Store): Promise<{ id: string; path: string }> {
  const backup = await store.backup();
  const now = Date.now();
  await store.kv('app').set('done', true);
  const record = (value: object) => ({
    type: 'put' as const,
    space: 'meta.migrations',
    expiresAt: null,
    value: JSON.stringify(value),
  });
  await store.driver.batch(
    [
      {
        ...record({ name: '005_done', checksum: 'c'.repeat(64), kind: 'function', startedAt: now, finishedAt: now, run: RUN }),
        key: 'applied:005_done',
      },
      {
        ...record({
          id: RUN,
          backup: backup.path,
          startedAt: now,
          process: 'gone-host:1',
          lease: 'gone-host:1:x',
          current: '010_half',
          checkpoint: null,
        }),
        key: 'run',
      },
    ],
    now,
  );
  return backup;
}

describe.each(['sqlite', 'file'] as const)('a dead run whose restore point is gone, on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir('migrate-point-gone');
    store = await open(urlFor(backend, dir.path));
    await store.kv('app').set('theme', 'dark');
    await store.migrate({ migrations: [base] });
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  it('restorePointsInUse names the backup an unfinished run needs, and nothing once it is over', async () => {
    expect(await restorePointsInUse(store)).toEqual([]);
    const backup = await deadRun(store);
    expect(await restorePointsInUse(store)).toEqual([backup.id]);
    expect((await store.migrate({ migrations: [base] })).recovered).toEqual({ run: RUN, action: 'restored' });
    expect(await restorePointsInUse(store)).toEqual([]);
  });

  it('abandonRun skips the restore of that run even when its backup is still there', async () => {
    const backup = await deadRun(store);
    const result = await store.migrate({ migrations: [base] }, { abandonRun: RUN });
    expect(result.recovered).toEqual({ run: RUN, action: 'abandoned' });
    expect(await store.kv('app').get('done')).toBe(true);
    expect((await store.backups.list()).map((b) => b.id)).toContain(backup.id);
  });

  it('migrate and down refuse, saying what happened and how to go on, changing nothing; abandonRun goes on', async () => {
    const backup = await deadRun(store);
    await rm(backup.path, { recursive: true });
    const before = await dump(store, backend, dir.path);
    const source = { migrations: [base, later] };
    for (const call of [
      () => store.migrate(source),
      () => store.migrations.down({ to: null, source }),
      () => store.migrate(source, { abandonRun: 'fedcba9876543210' }), // another run's id: this one is still undone
    ]) {
      const error = await rejection(call());
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toContain(`${RUN} (process gone-host:1`);
      expect(error.message).toContain(`${backup.path} is gone`);
      expect(error.message).not.toContain('pass an id');
      expect(error.hint).toContain(`{ abandonRun: '${RUN}' } (CLI: --abandon-run ${RUN})`);
      expect(error.details).toMatchObject({ run: RUN, backup: backup.path, migration: '010_half' });
      expect(await dump(store, backend, dir.path)).toBe(before);
    }
    for (const abandonRun of [5, '', 'a b']) {
      const error = await rejection(store.migrate(source, { abandonRun } as never));
      expect([error.code, error.details?.option]).toEqual(['BAD_INPUT', 'abandonRun']);
    }
    const result = await store.migrate(source, { abandonRun: RUN });
    expect(result).toMatchObject({ applied: ['020_later'], recovered: { run: RUN, action: 'abandoned' } });
    // What the dead run committed stays, as the user confirmed.
    expect(await store.kv('app').get('done')).toBe(true);
    expect((await store.migrations.status(source)).map((s) => [s.name, s.state])).toEqual([
      ['000_base', 'applied'],
      ['005_done', 'missing'],
      ['020_later', 'applied'],
    ]);
    expect(await store.driver.get('meta.migrations', 'run', Date.now())).toBeNull();
  });
});

describe('a restore point gone while its run is live (sqlite)', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let work: string;
  beforeAll(() => requireBuild());
  beforeEach(async () => {
    dir = await tempDir('migrate-point-gone-live');
    work = join(dir.path, 'work');
    await mkdir(join(work, 'migrations'), { recursive: true });
  });
  afterEach(async () => dir.dispose());

  it('a failing step says the run could not be undone; the next run refuses until the CLI abandons it', async () => {
    const url = `sqlite:${join(work, 'store.db')}`;
    const store = await open(url);
    let id: string;
    try {
      const vanish: Migration = {
        name: '010_vanish',
        up: async () => {
          const run = JSON.parse((await store.driver.get('meta.migrations', 'run', Date.now()))!.value) as { backup: string };
          await rm(run.backup, { recursive: true });
          throw new Error('boom');
        },
      };
      const error = await rejection(store.migrate({ migrations: [base, vanish] }));
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toContain('boom; the run could not be undone');
      expect(error.details).toMatchObject({ migration: '010_vanish', restored: false });
      id = error.details!.run as string;
      expect(error.hint).toContain(`--abandon-run ${id}`);
      // The step committed before the failure stays (it cannot be undone); the failed one left nothing.
      expect((await store.migrations.status()).map((s) => [s.name, s.state])).toEqual([
        ['000_base', 'applied'],
        ['010_vanish', 'pending'],
      ]);
    } finally {
      await store.close();
    }
    const refused = cli(['--url', 'sqlite:store.db', 'migrate', 'up'], { cwd: work });
    expect([refused.code, errorCode(refused)]).toEqual([3, 'NOT_FOUND']);
    expect(refused.stderr).toContain(`--abandon-run ${id}`);
    const abandoned = cli(['--url', 'sqlite:store.db', 'migrate', 'up', '--abandon-run', id], { cwd: work });
    expect([abandoned.code, abandoned.stdout]).toEqual([
      0,
      expect.stringContaining(`an interrupted run (${id}) was first abandoned`),
    ]);
  });
});
