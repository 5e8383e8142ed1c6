// Hostile migrations directories: entries that are not files, names that differ only by case
// or extension, modules that define nothing (or the wrong thing), and checksums that must not
// depend on how a module was loaded. Every refusal comes before anything runs: no backup, no
// record, the store as it was.
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runChild, tempDir } from '../reliability/helpers.js';
import type { Store, StrataError } from '../../src/index.js';
import { dump, open, urlFor } from './migrate-helpers.js';

async function rejection(promise: Promise<unknown>): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    return error as StrataError;
  }
  throw new Error('expected a rejection');
}

describe('hostile migrations directories', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  let n = 0;
  /** A fresh directory holding `files` (name -> text). */
  const folder = async (files: Record<string, string>): Promise<string> => {
    const d = join(dir.path, `m${n++}`);
    await mkdir(d);
    for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text);
    return d;
  };
  beforeEach(async () => {
    dir = await tempDir('migrate-discovery');
    store = await open(urlFor('sqlite', dir.path));
    await store.kv('app').set('theme', 'dark');
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  const refused = async (d: string, code: string, file?: string): Promise<StrataError> => {
    const before = await dump(store, 'sqlite', dir.path);
    const status = await store.migrations.status({ migrations: [] });
    const error = await rejection(store.migrate({ dir: d }));
    expect(error.code, error.message).toBe(code);
    expect(error.hint, error.message).toBeTruthy();
    if (file !== undefined) expect(String(error.details?.file)).toBe(join(d, file));
    expect(await dump(store, 'sqlite', dir.path)).toBe(before);
    expect(await store.migrations.status({ migrations: [] })).toEqual(status);
    return error;
  };

  it('entries that are not regular files: a directory is skipped, a FIFO or a dangling link is BAD_INPUT (never a hang)', async () => {
    const skipped = await folder({ '002.sql': 'CREATE TABLE two (a);' });
    await mkdir(join(skipped, '001.sql'));
    await mkdir(join(skipped, '003.mjs'));
    expect((await store.migrate({ dir: skipped })).applied).toEqual(['002']);
    const fifo = await folder({});
    execFileSync('mkfifo', [join(fifo, '001.sql')]);
    await refused(fifo, 'BAD_INPUT', '001.sql');
    const dangling = await folder({});
    await symlink(join(dir.path, 'nowhere.sql'), join(dangling, '001.sql'));
    await refused(dangling, 'BAD_INPUT', '001.sql');
  });

  it('names that differ only by case, or a .down.sql in capitals, are BAD_INPUT', async () => {
    await refused(await folder({ '001_Add.sql': 'SELECT 1;', '001_add.sql': 'SELECT 2;' }), 'BAD_INPUT');
    await refused(await folder({ '001.sql': 'SELECT 1;', '001.DOWN.sql': 'SELECT 2;' }), 'BAD_INPUT', '001.DOWN.sql');
    const error = await rejection(
      store.migrate({
        migrations: [
          { name: 'a_X', up: async () => {} },
          { name: 'a_x', up: async () => {} },
        ],
      }),
    );
    expect(error.code).toBe('BAD_INPUT');
  });

  it('an extension in capitals is BAD_INPUT naming the file, not silently skipped', async () => {
    await refused(await folder({ '001.SQL': 'CREATE TABLE t (a);' }), 'BAD_INPUT', '001.SQL');
    await refused(await folder({ '001.MJS': 'export async function up() {}' }), 'BAD_INPUT', '001.MJS');
  });

  it('modules that define no migration, or a down without an up, are BAD_INPUT naming the file', async () => {
    await refused(await folder({ '001.mjs': 'export async function down(m) {}' }), 'BAD_INPUT', '001.mjs');
    await refused(await folder({ '001.mjs': 'export const n = 5;\nexport function helper() {}' }), 'BAD_INPUT', '001.mjs');
    await refused(await folder({ '001.mjs': 'export async function Up(m) {}' }), 'BAD_INPUT', '001.mjs');
    await refused(await folder({ '001.mjs': 'export default 42;' }), 'BAD_INPUT', '001.mjs');
    await refused(await folder({ '001.mjs': 'export class up {}' }), 'BAD_INPUT', '001.mjs');
    await refused(await folder({ '001.mjs': 'export const up = 42;' }), 'BAD_INPUT', '001.mjs');
    await refused(await folder({ '001.mjs': 'const a = "SELECT 1";\nexport { a as "../../x" };' }), 'BAD_INPUT', '001.mjs');
    const load = await refused(await folder({ '001.mjs': 'throw new Error("at import");' }), 'MIGRATION_FAILED', '001.mjs');
    expect((load.cause as Error).message).toBe('at import');
  });

  it('a default export { up, down } and a .cjs module are migrations like named exports', async () => {
    const d = await folder({
      '001_default.mjs':
        "export default { up: async (m) => m.kv('app').set('a', 1), down: async (m) => m.kv('app').delete('a') };",
      '002_cjs.cjs': "exports.up = async (m) => m.kv('app').set('b', 2);\n",
    });
    expect((await store.migrate({ dir: d })).applied).toEqual(['001_default', '002_cjs']);
    expect([await store.kv('app').get('a'), await store.kv('app').get('b')]).toEqual([1, 2]);
    expect((await store.migrations.status()).map((s) => [s.name, s.hasDown])).toEqual([
      ['001_default', true],
      ['002_cjs', false],
    ]);
  });

  it('a migration given in code whose source cannot be read (bound, native) is BAD_INPUT: its checksum would see no change', async () => {
    const f = async (): Promise<void> => {};
    for (const up of [f.bind(null), Math.max]) {
      const error = await rejection(store.migrate({ migrations: [{ name: '001', up: up as never }] }));
      expect(error.code).toBe('BAD_INPUT');
    }
  });

  it('the checksum of a module file does not depend on the loader: a run in a plain node process, then here, sees it applied', async () => {
    // This test process loads modules through vitest, which rewrites their imports (and so the
    // text of their functions); a test runner, a coverage tool or a loader can do the same.
    const d = await folder({
      '001_fs.mjs':
        "import { existsSync } from 'node:fs';\nexport async function up(m) { await m.kv('app').set('fs', existsSync('/')); }\n",
      '002_sql.mjs': 'export const b_sql = `CREATE TABLE b (a);`;\n',
    });
    await store.close();
    const script = join(dir.path, 'run.mjs');
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    await writeFile(
      script,
      `import { openStore } from ${JSON.stringify(dist)};
const store = await openStore({ url: process.argv[2], sweepInterval: false });
console.log(JSON.stringify(await store.migrate({ dir: process.argv[3] })));
await store.close();
`,
    );
    const child = await runChild(script, [urlFor('sqlite', dir.path), d], 30_000);
    expect(JSON.parse(child.lines[0]!).applied).toEqual(['001_fs', 'b_sql']);
    store = await open(urlFor('sqlite', dir.path));
    expect((await store.migrations.status({ dir: d })).map((s) => s.state)).toEqual(['applied', 'applied']);
    expect((await store.migrate({ dir: d })).applied).toEqual([]);
    // Editing the file is a change, wherever it is loaded.
    await writeFile(join(d, '001_fs.mjs'), "export async function up(m) { await m.kv('app').set('fs', 2); }\n");
    expect((await rejection(store.migrate({ dir: d }))).code).toBe('MIGRATION_FAILED');
  });
});
