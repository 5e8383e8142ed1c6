// `strata migrate` against hostile arguments: `create` with names that would escape the
// directory or write a file `up` then refuses, --dir naming a file, and the exit codes a
// script relies on (2 usage, 3 not found, 1 MIGRATION_FAILED, 6 another migrator) with --json.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorCode, requireBuild, strata } from '../cli/helpers.js';
import { tempDir } from '../reliability/helpers.js';
import { open } from './migrate-helpers.js';

/** Every path under `root`, relative to it. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    out.push(join(entry.parentPath, entry.name).slice(root.length + 1));
  }
  return out.sort();
}

describe('strata migrate with hostile arguments', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let work: string;
  const run = (...args: string[]) => strata(['--url', 'sqlite:store.db', ...args], { cwd: work });
  beforeAll(() => requireBuild());
  beforeEach(async () => {
    dir = await tempDir('migrate-cli-hostile');
    work = join(dir.path, 'work');
    await mkdir(work);
  });
  afterEach(async () => dir.dispose());

  it('create refuses names that leave the directory or make a file `up` refuses, writing nothing anywhere', async () => {
    const before = await tree(dir.path);
    for (const name of [
      '',
      '..',
      '../x',
      '../../../tmp/evil',
      'a/b',
      '/abs',
      'a\\b',
      'x.down',
      'X.DOWN',
      'x.',
      '.x',
      'é',
      'a b',
    ]) {
      const created = run('--json', 'migrate', 'create', name);
      expect(created.code, `create ${JSON.stringify(name)}: ${created.stderr}`).toBe(2);
      expect(errorCode(created)).toBe('BAD_INPUT');
      expect(created.stdout).toBe('');
    }
    expect(await tree(dir.path)).toEqual(before);
  });

  it('every name create accepts is read back by up as one pending migration of that name', async () => {
    const names = ['add_priority', 'v1.2_fix', 'a', 'A-b+c@d_'];
    expect(run('set', 'app', 'k', '1').code).toBe(0);
    const created = names.map((name, i) => {
      const r = run('--json', 'migrate', 'create', name, ...(i % 2 === 0 ? ['--sql'] : []));
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { name: string }).name;
    });
    const status = JSON.parse(run('--json', 'migrate', 'status').stdout) as Array<{ name: string; state: string }>;
    expect(status.map((s) => s.name).sort()).toEqual([...created].sort());
    expect(status.every((s) => s.state === 'pending')).toBe(true);
    const up = run('--json', 'migrate', 'up');
    expect(up.code, up.stderr).toBe(0);
    expect((JSON.parse(up.stdout) as { applied: string[] }).applied.sort()).toEqual([...created].sort());
  });

  it('--dir naming a file is a usage error for every subcommand', async () => {
    await writeFile(join(work, 'afile'), 'x');
    expect(run('set', 'app', 'k', '1').code).toBe(0);
    for (const args of [['create', 'x'], ['status'], ['up'], ['down', '--all']]) {
      const r = run('migrate', ...args, '--dir', 'afile');
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(errorCode(r)).toBe('BAD_INPUT');
    }
  });

  it('exit codes with --json: 3 for down --to an unknown name, 1 for a changed source, 6 when another migrator holds the lease', async () => {
    await mkdir(join(work, 'migrations'));
    await writeFile(join(work, 'migrations', '001.sql'), 'CREATE TABLE a (x);\n');
    expect(JSON.parse(run('--json', 'migrate', 'up').stdout)).toMatchObject({ applied: ['001'] });
    const unknown = run('--json', 'migrate', 'down', '--to', 'nope');
    expect([unknown.code, errorCode(unknown)]).toEqual([3, 'NOT_FOUND']);
    const noDown = run('--json', 'migrate', 'down', '--all');
    expect([noDown.code, errorCode(noDown)]).toEqual([1, 'MIGRATION_FAILED']);
    await writeFile(join(work, 'migrations', '001.sql'), 'CREATE TABLE a (x, y);\n');
    const changed = run('--json', 'migrate', 'up');
    expect([changed.code, errorCode(changed), changed.stdout]).toEqual([1, 'MIGRATION_FAILED', '']);
    const status = JSON.parse(run('--json', 'migrate', 'status').stdout) as Array<{ state: string; currentChecksum?: string }>;
    expect(status[0]!.state).toBe('changed');
    expect(status[0]!.currentChecksum).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(run('--json', 'migrate', 'up', '--accept-checksums').stdout)).toEqual({ applied: [] });

    await writeFile(join(work, 'migrations', '002.sql'), 'CREATE TABLE b (x);\n');
    const store = await open(`sqlite:${join(work, 'store.db')}`);
    try {
      const value = JSON.stringify({ owner: 'other', process: 'another-host:1', until: Date.now() + 120_000 });
      await store.driver.batch(
        [{ type: 'put', space: 'meta.migrations-lock', key: 'lease', value, expiresAt: null }],
        Date.now(),
      );
    } finally {
      await store.close();
    }
    const waited = run('--json', 'migrate', 'up', '--wait', '300ms');
    expect([waited.code, errorCode(waited)]).toEqual([6, 'TIMEOUT']);
    const bad = run('migrate', 'up', '--wait', 'soon');
    expect([bad.code, errorCode(bad)]).toEqual([2, 'BAD_INPUT']);
    const down = run('migrate', 'down', '--all', '--wait', '300ms');
    expect([down.code, errorCode(down)]).toEqual([6, 'TIMEOUT']);
    expect((JSON.parse(run('--json', 'migrate', 'status').stdout) as Array<{ state: string }>).map((s) => s.state)).toEqual([
      'applied',
      'pending',
    ]);
  });
});
