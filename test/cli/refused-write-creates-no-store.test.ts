import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, requireBuild, strata } from '../cli/helpers.js';

// A write command that is refused leaves the store as it was. When there was no store at the
// --url, "as it was" is still no store: what the open created (the sqlite file, the file:
// directory, the directories made for them) is removed again, so a typo in --url does not
// quietly make a store. What existed before the command is never removed.

let root: string;
beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-refused-'));
  writeFileSync(join(root, 'garbage.strata'), 'not an export\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const LONG_KEY = 'k'.repeat(1100);

describe('a refused write command creates no store where there was none', () => {
  // README.md "### Errors": "A failed write leaves the store exactly as it was." Each case, on
  // sqlite: and file:, is refused with its usual exit code and leaves no store file or directory.
  it.each([
    { name: 'import of a file that does not exist', args: (d: string) => ['import', join(d, 'missing.strata')], code: 3 },
    { name: 'import of a damaged file', args: () => ['import', join(root, 'garbage.strata')], code: 5 },
    { name: 'restore of a backup that does not exist', args: () => ['restore', 'no-such-backup'], code: 3 },
    {
      name: 'migrate up with no migrations directory',
      args: (d: string) => ['migrate', 'up', '--dir', join(d, 'none')],
      code: 3,
    },
    { name: 'set refused as BAD_INPUT (key over 1,024 bytes)', args: () => ['set', 'app', LONG_KEY, '1'], code: 2 },
    {
      name: 'set refused as CONFLICT (--if-version 5 of an absent key)',
      args: () => ['set', 'app', 'k', '1', '--if-version', '5'],
      code: 4,
    },
  ])('$name', ({ args, code }) => {
    for (const scheme of ['sqlite', 'file'] as const) {
      const cwd = mkdtempSync(join(root, `${scheme}-`));
      const location = join(cwd, scheme === 'sqlite' ? 'app.db' : 'store');
      const r = strata(['--url', `${scheme}:${location}`, ...args(cwd)], { cwd });
      expect(r.code, `${scheme}: ${r.stderr}`).toBe(code);
      expect(errorCode(r)).toBeDefined();
      expect(
        existsSync(location),
        `${scheme}: the refused command created ${location} (now in ${cwd}: ${readdirSync(cwd).join(', ')})`,
      ).toBe(false);
    }
  });

  it('the directories made for the store go too, and a directory that was there stays with what it held', () => {
    const cwd = mkdtempSync(join(root, 'dirs-'));
    const nested = join(cwd, 'a', 'b', 'app.db');
    const r = strata(['--url', `sqlite:${nested}`, 'set', 'app', 'k', '1', '--if-version', '5'], { cwd });
    expect(r.code, r.stderr).toBe(4);
    expect(readdirSync(cwd)).toEqual([]);

    // An existing directory that is not a store yet: only what the open added to it goes.
    const dir = join(cwd, 'existing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const f = strata(['--url', `file:${dir}`, 'set', 'app', 'k', '1', '--if-version', '5'], { cwd });
    expect(f.code, f.stderr).toBe(4);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('a failed migrate up on a new URL also takes away the restore point it made of the empty store', () => {
    // The run backs the store up before its first step (docs/migrations.md); the store held
    // nothing, so that backup is of nothing, and it was made by this command alone.
    for (const scheme of ['sqlite', 'file'] as const) {
      const cwd = mkdtempSync(join(root, `migrate-${scheme}-`));
      const dir = join(cwd, 'migrations');
      mkdirSync(dir);
      writeFileSync(join(dir, '001-fails.mjs'), "export async function up() { throw new Error('step fails'); }\n");
      const location = join(cwd, scheme === 'sqlite' ? 'app.db' : 'store');
      const r = strata(['--url', `${scheme}:${location}`, 'migrate', 'up', '--dir', dir], { cwd });
      expect(r.code, `${scheme}: ${r.stderr}`).toBe(1); // MIGRATION_FAILED
      expect(readdirSync(cwd), scheme).toEqual(['migrations']);
    }
    // A backups directory that was there before stays, with what it held.
    const cwd = mkdtempSync(join(root, 'migrate-kept-'));
    mkdirSync(join(cwd, 'migrations'));
    writeFileSync(join(cwd, 'migrations', '001-fails.mjs'), "export async function up() { throw new Error('x'); }\n");
    mkdirSync(join(cwd, 'backups'));
    writeFileSync(join(cwd, 'backups', 'mine.txt'), 'mine\n');
    const r = strata(['--url', `sqlite:${join(cwd, 'app.db')}`, 'migrate', 'up', '--dir', join(cwd, 'migrations')], { cwd });
    expect(r.code, r.stderr).toBe(1);
    expect(readdirSync(cwd).sort()).toEqual(['backups', 'migrations']);
    expect(readdirSync(join(cwd, 'backups'))).toEqual(['mine.txt']);
  });

  it('a store that existed is kept after a refused write, and a write that succeeds on a new URL keeps its store', () => {
    const cwd = mkdtempSync(join(root, 'kept-'));
    const url = `sqlite:${join(cwd, 'app.db')}`;
    expect(strata(['--url', url, 'set', 'app', 'k', '1'], { cwd }).code).toBe(0);
    expect(strata(['--url', url, 'set', 'app', 'k', '2', '--if-version', '5'], { cwd }).code).toBe(4);
    expect(strata(['--url', url, 'get', 'app', 'k'], { cwd }).stdout).toBe('1\n');
  });
});
