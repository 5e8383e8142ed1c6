// What a migrations source may not hold, refused before anything runs (no backup, no record,
// the store as it was): a file that is not UTF-8 (it would run with U+FFFD in place of its
// bytes), an up or down that is a generator function (calling it runs none of its body, and
// the migration would be recorded as applied), and a module whose exports throw when read
// (MIGRATION_FAILED naming the file, as for a module that throws while it is imported).
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../reliability/helpers.js';
import { dump, open } from './migrate-helpers.js';
import type { Store, StrataError } from '../../src/index.js';

async function rejection(promise: Promise<unknown>): Promise<StrataError | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    return error as StrataError;
  }
}

describe('migration sources refused before anything runs (sqlite)', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  let before: string;
  beforeEach(async () => {
    dir = await tempDir('migrate-source-refusals');
    store = await open(`sqlite:${join(dir.path, 'store.db')}`);
    await store.kv('app').set('theme', 'dark');
    before = await dump(store, 'sqlite', dir.path);
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  /** Nothing ran: the store as before, and no restore point was taken. */
  async function expectUntouched(): Promise<void> {
    expect(await dump(store, 'sqlite', dir.path)).toBe(before);
    expect(await readdir(dir.path)).not.toContain('backups');
  }

  it('a file that is not UTF-8 is BAD_INPUT naming it; its bytes are never run as U+FFFD', async () => {
    const d = join(dir.path, 'm');
    await mkdir(d);
    const latin1 = Buffer.concat([
      Buffer.from("CREATE TABLE names (a TEXT);\nINSERT INTO names VALUES ('caf"),
      Buffer.from([0xe9]),
      Buffer.from("');\n"),
    ]);
    for (const file of ['001_latin1.sql', '001_latin1.mjs']) {
      await writeFile(join(d, file), latin1);
      const error = await rejection(store.migrate({ dir: d }));
      expect([error?.code, error?.details?.file, error?.hint]).toEqual([
        'BAD_INPUT',
        join(d, file),
        expect.stringContaining('UTF-8'),
      ]);
      await rm(join(d, file));
    }
    const db = new Database(join(dir.path, 'store.db'), { readonly: true });
    expect(db.prepare("SELECT name FROM sqlite_schema WHERE name = 'names'").get()).toBeUndefined();
    db.close();
    await expectUntouched();
  });

  it('a UTF-8 byte order mark is kept in a module checksum, as before (recorded checksums stay valid)', async () => {
    const d = join(dir.path, 'bom');
    await mkdir(d);
    const text = '\uFEFFexport async function up(m) { await m.kv("app").set("bom", true); }\n';
    await writeFile(join(d, '001_bom.mjs'), text);
    await store.migrate({ dir: d });
    const sha = createHash('sha256').update(text, 'utf8').digest('hex');
    expect((await store.migrations.status())[0]).toMatchObject({ name: '001_bom', state: 'applied', checksum: sha });
  });

  it('an up or down that is a generator function is BAD_INPUT naming the migration (in code and in a file)', async () => {
    const generators: Array<[string, unknown]> = [
      ['up', async function* () {}],
      ['up', function* () {}],
      ['down', async function* () {}],
    ];
    for (const [part, fn] of generators) {
      const migration = part === 'up' ? { name: '001_gen', up: fn } : { name: '001_gen', up: async () => {}, down: fn };
      const error = await rejection(store.migrate({ migrations: [migration as never] }));
      expect([error?.code, error?.details?.migration, error?.message]).toEqual([
        'BAD_INPUT',
        '001_gen',
        expect.stringContaining(`${part} is a generator function`),
      ]);
    }
    const d = join(dir.path, 'g');
    await mkdir(d);
    await writeFile(join(d, '001_gen.mjs'), 'export default { async *up(m) { await m.kv("app").set("ran", true); } };\n');
    const error = await rejection(store.migrate({ dir: d }));
    expect([error?.code, error?.details?.file]).toEqual(['BAD_INPUT', join(d, '001_gen.mjs')]);
    expect(await store.kv('app').get('ran')).toBeNull();
    expect(await store.driver.get('meta.migrations', 'applied:001_gen', Date.now())).toBeNull();
    await expectUntouched();
  });

  it('a module whose exports throw when read is MIGRATION_FAILED naming the file, with the error as cause', async () => {
    const d = join(dir.path, 'x');
    await mkdir(d);
    const modules = [
      'export default { get up() { throw new Error("getter"); } };\n',
      'export default new Proxy({}, { has() { throw new Error("getter"); } });\n',
    ];
    for (const text of modules) {
      await writeFile(join(d, '001_getter.mjs'), text);
      const error = await rejection(store.migrate({ dir: d }));
      expect([error?.code, error?.details?.file, (error?.cause as Error | undefined)?.message]).toEqual([
        'MIGRATION_FAILED',
        join(d, '001_getter.mjs'),
        'getter',
      ]);
    }
    await expectUntouched();
  });
});
