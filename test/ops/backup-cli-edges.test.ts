// `strata backup` at its edges, run as a user would: damaged backups in --json output, exit
// codes of refusals, retention dry runs that delete nothing, bad flag values.
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBuild, strata } from '../cli/helpers.js';

let cwd: string;
beforeAll(() => requireBuild());
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'strata-backup-cli-edges-'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const run = (...args: string[]) => strata(args, { cwd });

describe('strata backup, edges', () => {
  it('damaged backups: listed as such (exit 0), verify and restore exit 5 with nothing on stdout, the store unchanged', async () => {
    expect(run('set', 'cfg', 'a', '1').code).toBe(0);
    const first = JSON.parse(run('backup', 'create', '--json').stdout) as { id: string; path: string };
    const second = JSON.parse(run('backup', 'create', '--json').stdout) as { id: string; path: string };
    expect(run('set', 'cfg', 'a', '2').code).toBe(0);
    const manifest = join(second.path, 'manifest.json');
    const text = await readFile(manifest, 'utf8');
    // One whitespace byte changed: the JSON means the same, but it is not what was written.
    await writeFile(manifest, text.replace('\n  "id"', '\n\t "id"'));
    const listed = run('backup', 'list', '--json');
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as Array<{ id: string; damaged?: boolean; reason?: string }>;
    expect(entries.map((e) => e.id)).toEqual([second.id, first.id]);
    expect(entries[0]).toMatchObject({ damaged: true });
    expect(entries[0]!.reason).toContain('is damaged');
    expect(entries[1]!.damaged).toBeUndefined();
    expect(run('backup', 'list').stdout).toContain('DAMAGED');
    for (const args of [
      ['backup', 'verify', second.id, '--json'],
      ['restore', second.id, '--json'],
      ['backup', 'restore', second.path, '--dry-run', '--json'],
    ]) {
      const r = run(...args);
      expect(r.code, args.join(' ')).toBe(5);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toContain('CORRUPT');
      expect(r.stderr, args.join(' ')).toContain('strata backup list');
    }
    expect(run('get', 'cfg', 'a').stdout.trim()).toBe('2');
    // Retention counts good backups only: keep 1 keeps the good one, and the damaged newer one.
    const dry = run('backup', 'prune', '--keep', '1', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ deleted: [], kept: [second.id, first.id] });
    expect((await readdir(join(cwd, '.strata', 'backups', 'strata.db'))).sort()).toEqual([first.id, second.id].sort());
    await writeFile(manifest, text);
    expect(run('backup', 'verify', second.id).code).toBe(0);
  });

  it('bad values exit 2 and change nothing; a renamed backup directory exits 2 with what to do', async () => {
    expect(run('set', 'cfg', 'a', '1').code).toBe(0);
    const made = JSON.parse(run('backup', 'create', '--json').stdout) as { id: string; path: string };
    for (const level of ['', '0', '10', '1.5', '-1', 'fast']) {
      const r = run('backup', 'create', '--gzip-level', level);
      expect(r.code, `--gzip-level ${JSON.stringify(level)}`).toBe(2);
      expect(r.stderr).toContain('--gzip-level');
    }
    for (const args of [['--keep', '0'], ['--keep', '-1'], ['--keep', 'x'], ['--max-age', '0'], ['--max-age', 'soon'], []]) {
      expect(run('backup', 'prune', ...args).code, args.join(' ')).toBe(2);
    }
    expect(JSON.parse(run('backup', 'list', '--json').stdout)).toHaveLength(1);
    await cp(made.path, join(cwd, 'copy of backup'), { recursive: true });
    const renamed = run('restore', join(cwd, 'copy of backup'));
    expect(renamed.code).toBe(2);
    expect(renamed.stderr).toContain('not named by its id');
    expect(renamed.stderr).toContain('manifest.json');
    expect(run('restore', join(cwd, 'nowhere')).code).toBe(3);
    expect(run('restore', '../../etc').code).toBe(3);
    expect(run('backup', 'verify', '__proto__').code).toBe(3);
    expect(run('get', 'cfg', 'a').stdout.trim()).toBe('1');
  });
});
