// `strata backup create|list|verify|prune|restore` and `strata restore`, run as a user would:
// human output, --json, exit codes of the README table.
import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireBuild, strata } from '../cli/helpers.js';

let cwd: string;
beforeAll(() => requireBuild());
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'strata-backup-cli-'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const run = (...args: string[]) => strata(args, { cwd });

describe('strata backup', () => {
  it('create, list, verify, restore and prune, with --json and human output', async () => {
    expect(run('set', 'cfg', 'theme', '"dark"').code).toBe(0);
    const created = run('backup', 'create', '--json');
    expect(created.code).toBe(0);
    const backup = JSON.parse(created.stdout) as { id: string; path: string; records: number; checksum: string };
    expect(backup.path).toBe(join(cwd, '.strata', 'backups', 'strata.db', backup.id));
    expect(backup.checksum).toMatch(/^sha256:/);
    const human = run('backup', 'create');
    expect(human.code).toBe(0);
    const secondId = human.stdout.split('\n')[0]!;
    expect(secondId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    expect(human.stdout).toContain('records');

    const listed = JSON.parse(run('backup', 'list', '--json').stdout) as Array<{ id: string }>;
    expect(listed.map((b) => b.id)).toEqual([secondId, backup.id]);
    const table = run('backup', 'list');
    expect(table.stdout).toContain(backup.id);
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+taken\s+records\s+size\s+driver/);

    const verified = run('backup', 'verify', backup.id);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^ok: backup /);
    expect(JSON.parse(run('backup', 'verify', backup.path, '--json').stdout)).toMatchObject({ ok: true, id: backup.id });

    expect(run('set', 'cfg', 'theme', '"light"').code).toBe(0);
    const dry = run('restore', backup.id, '--dry-run', '--json');
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, id: backup.id });
    expect(run('get', 'cfg', 'theme').stdout.trim()).toBe('light');
    const restored = run('restore', backup.id);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/^restored backup /);
    expect(run('get', 'cfg', 'theme').stdout.trim()).toBe('dark');
    expect(run('backup', 'restore', secondId, '--json').code).toBe(0);

    const pruned = JSON.parse(run('backup', 'prune', '--keep', '1', '--json').stdout) as { deleted: string[]; kept: string[] };
    expect(pruned).toEqual({ deleted: [backup.id], kept: [secondId] });
    expect(await readdir(join(cwd, '.strata', 'backups', 'strata.db'))).toEqual([secondId]);
    expect(run('backup', 'prune', '--max-age', '7d', '--dry-run').stdout).toContain('would delete 0');
  });

  it('exit codes: 3 for a missing backup, 5 for a damaged one, 2 for bad usage', async () => {
    expect(run('set', 'cfg', 'a', '1').code).toBe(0);
    const to = join(cwd, 'elsewhere');
    const id = run('backup', 'create', '--to', to).stdout.split('\n')[0]!;
    expect(run('backup', 'list', '--dir', to, '--json').stdout).toContain(id);
    expect(run('backup', 'verify', id).code).toBe(3); // not in the default directory
    expect(run('restore', '20200101T000000000Z-abcdef').code).toBe(3);
    expect(run('backup', 'verify', id, '--dir', to).code).toBe(0);
    const part = join(to, id, 'store.db.gz');
    const bytes = await readFile(part);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(part, bytes);
    const damaged = run('backup', 'verify', id, '--dir', to);
    expect(damaged.code).toBe(5);
    expect(damaged.stderr).toContain('CORRUPT');
    expect(run('restore', join(to, id)).code).toBe(5);
    expect(run('get', 'cfg', 'a').stdout.trim()).toBe('1');
    expect(run('backup', 'prune').code).toBe(2);
    expect(run('backup', 'prune', '--keep', 'x').code).toBe(2);
    expect(run('backup', 'create', '--gzip-level', '0').code).toBe(2);
    expect(run('backup', 'create', '--frobnicate').code).toBe(2);
    expect(run('--url', 'memory:', 'backup', 'create').code).toBe(2);
  });
});
