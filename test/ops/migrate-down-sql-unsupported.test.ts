// A migration whose `up` is a function and whose `down` is SQL text, on a file or memory
// store: `down` is UNSUPPORTED before anything runs. (It once took a backup, wrote the run
// record, and hit a null connection: MIGRATION_FAILED.)
//
// Promise, README.md:503-504: "**SQL elsewhere**: on file and memory stores SQL migrations are
// `UNSUPPORTED`, before anything runs."
// docs/migrations.md:14 lets up/down each be "functions `(m) => ...` or SQL strings".
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, StrataError, type MigrationContext } from '../../src/index.js';
import { dumpSpaces } from './migrate-helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-probe-down-sql-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<StrataError> {
  try {
    await p;
  } catch (e) {
    return e as StrataError;
  }
  throw new Error('expected a rejection');
}

describe('down with SQL text on a store without SQL', () => {
  it('is UNSUPPORTED before anything runs (no backup taken), on a file store (migration given in code)', async () => {
    const store = await openStore({ url: `file:${join(dir, 'fs')}`, sweepInterval: false });
    try {
      const migrations = [
        { name: '001_a', up: async (m: MigrationContext) => void (await m.kv('app').set('a', 1)), down: 'DROP TABLE t' },
      ];
      await store.migrate({ migrations });
      const backups = (await store.backups.list()).length;
      const before = await dumpSpaces(store);
      const error = await rejection(store.migrations.down({ to: null }));
      // It once took a backup, then failed with MIGRATION_FAILED ("Cannot read properties of null").
      expect(error).toBeInstanceOf(StrataError);
      expect(error.code).toBe('UNSUPPORTED');
      expect(error.details?.migration).toBe('001_a');
      // "before anything runs": no restore point was taken for a call that cannot run.
      expect((await store.backups.list()).length).toBe(backups);
      expect(await dumpSpaces(store)).toEqual(before);
    } finally {
      await store.close();
    }
  });

  it('is UNSUPPORTED on a memory store for a module exporting an up function and a down SQL string', async () => {
    const migs = join(dir, 'migs');
    await mkdir(migs);
    await writeFile(
      join(migs, '001_a.mjs'),
      "export async function up(m) { await m.kv('app').set('a', 1); }\nexport const down = 'DROP TABLE nothing';\n",
    );
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      await store.migrate({ dir: migs });
      const error = await rejection(store.migrations.down({ to: null }));
      expect(error).toBeInstanceOf(StrataError);
      expect(error.code).toBe('UNSUPPORTED');
    } finally {
      await store.close();
    }
  });
});
