// The way back from a damaged store, as its CORRUPT hint words it: list and verify the
// backups although the store cannot be opened (damaged, or moved aside), then move it aside
// and `strata restore <id>` into a new store at the path. `backup list` / `backup verify`
// answered the store's own CORRUPT (or "no store") before.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, strata } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'strata-cli-damaged-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(requireBuild);

const cases: Array<[string, string, (dir: string) => void, (dir: string) => void]> = [
  [
    'sqlite',
    'sqlite:app.db',
    (dir) => writeFileSync(join(dir, 'app.db'), 'not a database any more'),
    (dir) => renameSync(join(dir, 'app.db'), join(dir, 'app.db.damaged')),
  ],
  [
    'file',
    'file:fs',
    (dir) => writeFileSync(join(dir, 'fs', 'kv.a.json'), '{"format":'),
    (dir) => renameSync(join(dir, 'fs'), join(dir, 'fs.damaged')),
  ],
];

describe('backups of a store that cannot be opened', () => {
  for (const [name, url, damage, moveAside] of cases) {
    it(`${name}: backup list and verify work on the damaged store and after it is moved aside; restore then brings the data back`, () => {
      const cwd = join(root, name);
      mkdirSync(cwd, { recursive: true });
      const run = (...args: string[]) => strata(['--url', url, ...args], { cwd });
      expect(run('set', 'a', 'k', '"kept"').code).toBe(0);
      const created = run('-q', 'backup', 'create');
      expect(created.code).toBe(0);
      const id = created.stdout.trim();
      damage(cwd);
      expect(run('get', 'a', 'k').code).toBe(5);
      for (const where of ['damaged', 'moved aside']) {
        if (where === 'moved aside') moveAside(cwd);
        const listed = run('backup', 'list', '--json');
        expect(listed.code, `${where}: ${listed.stderr}`).toBe(0);
        expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((b) => b.id)).toEqual([id]);
        const verified = run('backup', 'verify', id);
        expect(verified.code, `${where}: ${verified.stderr}`).toBe(0);
        expect(verified.stdout).toContain(`ok: backup ${id}`);
        // A backup id that is not there is still NOT_FOUND, not the store's own answer.
        expect(run('backup', 'verify', 'nosuch').code).toBe(3);
      }
      expect(run('restore', id).code).toBe(0);
      expect(run('get', 'a', 'k').stdout.trim()).toBe('kept');
    });
  }
});
