import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBuild, strata } from '../cli/helpers.js';
import { tempDir } from '../reliability/helpers.js';

describe('strata migrate', () => {
  let dir: { path: string; dispose(): Promise<void> };
  const run = (...args: string[]) => strata(['--url', 'sqlite:store.db', ...args], { cwd: dir.path });
  beforeAll(() => requireBuild());
  beforeEach(async () => {
    dir = await tempDir('migrate-cli');
  });
  afterEach(async () => dir.dispose());

  it('create writes timestamped templates; up, status and down run them, with --json', async () => {
    const sql = run('migrate', 'create', 'users', '--sql');
    expect(sql.code).toBe(0);
    const mod = run('--json', 'migrate', 'create', 'add_flag');
    const created = JSON.parse(mod.stdout) as { name: string; file: string };
    expect(created.name).toMatch(/^\d{14}_add_flag$/);
    expect((await stat(created.file)).mode & 0o777).toBe(0o600);
    const all = await readdir(join(dir.path, 'migrations'));
    expect(all).toHaveLength(2);
    // Both may carry the same second: name order is then by what follows the timestamp.
    const files = [all.find((f) => f.endsWith('.sql'))!, all.find((f) => f.endsWith('.mjs'))!];
    await writeFile(join(dir.path, 'migrations', files[1]!), '');
    const later = files[1]!.replace(/^\d{14}/, '99999999999999');
    await rename(join(dir.path, 'migrations', files[1]!), join(dir.path, 'migrations', later));
    files[1] = later;
    await writeFile(join(dir.path, 'migrations', files[0]!), 'CREATE TABLE users (id INTEGER);\n-- down\nDROP TABLE users;\n');
    await writeFile(
      join(dir.path, 'migrations', files[1]!),
      "export async function up(m) { await m.kv('app').set('flag', true); }\nexport async function down(m) { await m.kv('app').delete('flag'); }\n",
    );
    expect(run('set', 'app', 'theme', '"dark"').code).toBe(0);

    const pending = JSON.parse(run('--json', 'migrate', 'status').stdout) as Array<{ state: string }>;
    expect(pending.map((s) => s.state)).toEqual(['pending', 'pending']);
    const up = run('migrate', 'up');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('applied');
    expect(up.stderr).toContain('[2/2]'); // plain progress lines when stderr is not a terminal
    expect(JSON.parse(run('--json', 'migrate', 'up').stdout)).toEqual({ applied: [] });
    expect(run('get', 'app', 'flag').stdout.trim()).toBe('true');
    const status = run('migrate', 'status');
    expect(status.stdout).toMatch(/applied/);

    const down = JSON.parse(run('--json', 'migrate', 'down', '--to', files[0]!.replace(/\.sql$/, '')).stdout) as {
      reverted: string[];
    };
    expect(down.reverted).toEqual([files[1]!.replace(/\.mjs$/, '')]);
    expect(run('get', 'app', 'flag').code).toBe(3);
  });

  it('exit codes: usage 2, missing directory 3, a failing migration 1 with the store unchanged', async () => {
    expect(run('set', 'app', 'theme', '"dark"').code).toBe(0);
    expect(run('migrate', 'down').code).toBe(2);
    expect(run('migrate', 'up', '--bogus').code).toBe(2);
    expect(run('migrate', 'create', 'bad/name').code).toBe(2);
    const missing = run('migrate', 'up', '--dir', 'nope');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^error NOT_FOUND/m);
    const m = join(dir.path, 'm');
    await mkdir(m);
    await writeFile(
      join(m, '001.mjs'),
      "export async function up(m) { await m.kv('app').set('theme', 'light'); throw new Error('nope'); }\n",
    );
    const failed = run('migrate', 'up', '--dir', 'm');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error MIGRATION_FAILED: .*"001"/m);
    expect(run('get', 'app', 'theme').stdout.trim()).toBe('dark');
    expect(JSON.parse(run('--json', 'migrate', 'status', '--dir', 'm').stdout)[0].state).toBe('pending');
    expect(await readFile(join(m, '001.mjs'), 'utf8')).toContain('nope');
  });
});
