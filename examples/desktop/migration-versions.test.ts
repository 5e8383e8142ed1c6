// Seed 003 (desktop): "interface MigrationManager { getCurrentVersion(): Promise<number>;
// runMigrations(targetVersion: number): Promise<void>; registerMigration(version: number,
// migration: Migration): void; ... }" and "Migration tests must ensure schema changes work
// correctly without data loss across multiple version jumps". Versions are positive safe
// integers compared as numbers, with no limit at four digits: migrations run in version
// order and getCurrentVersion reports the highest applied. Anything else is BAD_INPUT.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataError } from '../../src/index.js';
import { openKazari, type DataPersistenceLayer } from './persistence.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
let app: DataPersistenceLayer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kazari-versions-'));
  app = await openKazari({ keys: KEYS, dataDir: dir });
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (error) {
    return error instanceof StrataError ? error.code : String(error);
  }
  return 'accepted';
};
const noop = { description: 'x', up: async () => {} };

describe('desktop (seed 003): MigrationManager versions', () => {
  it('getCurrentVersion reports the version that was applied, also past 9999', async () => {
    app.migrations.registerMigration(10_000, { description: 'Big jump', up: async () => {} });
    await app.migrations.runMigrations(10_000);
    expect(await app.migrations.getCurrentVersion()).toBe(10_000);
    app.migrations.registerMigration(Number.MAX_SAFE_INTEGER, { description: 'Last', up: async () => {} });
    await app.migrations.runMigrations(Number.MAX_SAFE_INTEGER);
    expect(await app.migrations.getCurrentVersion()).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('migrations run in version order, whatever their number of digits', async () => {
    const order: number[] = [];
    for (const version of [100_000, 10_000, 9_999, 3])
      app.migrations.registerMigration(version, { description: `v${version}`, up: async () => void order.push(version) });
    await app.migrations.runMigrations(100_000);
    expect(order).toEqual([3, 9_999, 10_000, 100_000]);
    const applied = (await app.store.migrations.status()).map((s) => s.name);
    expect(applied[0]).toBe('0002-add-task-priority-field'); // the name stores already recorded
  });

  it('runMigrations(target) runs only the versions up to the target', async () => {
    const order: number[] = [];
    for (const version of [3, 4])
      app.migrations.registerMigration(version, { description: `v${version}`, up: async () => void order.push(version) });
    await app.migrations.runMigrations(3);
    expect(order).toEqual([3]);
    expect(await app.migrations.getCurrentVersion()).toBe(3);
  });

  it('registerMigration refuses a version that is not a positive safe integer, a bad migration, or a version taken', () => {
    for (const version of [Number.NaN, -3, 0, 1.5, 2 ** 53, '2' as unknown as number])
      expect
        .soft(
          codeOf(() => app.migrations.registerMigration(version, noop)),
          String(version),
        )
        .toBe('BAD_INPUT');
    const bad = [
      null,
      { description: '', up: noop.up },
      { description: 'x' },
      { description: 'x', up: noop.up, down: 1 },
      { description: 'x'.repeat(181), up: noop.up },
    ];
    for (const migration of bad)
      expect
        .soft(
          codeOf(() => app.migrations.registerMigration(7, migration as never)),
          JSON.stringify(migration),
        )
        .toBe('BAD_INPUT');
    // Version 2 is the built-in "Add task priority field".
    expect(codeOf(() => app.migrations.registerMigration(2, noop))).toBe('BAD_INPUT');
  });

  it('runMigrations refuses a target version that is not a positive whole number', async () => {
    for (const target of ['latest', Number.NaN, -1]) {
      let code = 'resolved';
      try {
        await app.migrations.runMigrations(target as number);
      } catch (error) {
        code = error instanceof StrataError ? error.code : String(error);
      }
      expect.soft(code, String(target)).toBe('BAD_INPUT');
    }
  });
});
