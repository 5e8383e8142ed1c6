// A store this process may not write is BAD_INPUT (exit 2), not UNAVAILABLE (exit 6, "retry
// later", which never helps): a read-only store file or store directory, a directory where
// no store can be created. Run as an unprivileged user (root ignores file modes): through
// setpriv when the tests run as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const root = mkdtempSync(join(tmpdir(), 'strata-perm-'));
chmodSync(root, 0o777);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const asRoot = process.getuid?.() === 0;
/** Runs the CLI as an unprivileged user: nobody (65534) under root, else this user. */
function strata(...args: string[]): { status: number | null; stderr: string } {
  const argv = [CLI, ...args];
  const run = asRoot
    ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...argv], {
        cwd: root,
        encoding: 'utf8',
      })
    : spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, stderr: run.stderr };
}

describe('a store this process may not write', () => {
  if (asRoot) execFileSync('setpriv', ['--version']); // fails loudly when setpriv is missing

  it('sqlite: a read-only store file, and a directory where no store can be created, are BAD_INPUT (exit 2)', () => {
    expect(strata('--url', 'sqlite:s.db', 'set', 'a', 'k', '1').status).toBe(0);
    chmodSync(join(root, 's.db'), 0o444);
    const write = strata('--url', 'sqlite:s.db', 'set', 'a', 'k', '2');
    expect(write.stderr).toMatch(/BAD_INPUT[\s\S]*permissions/);
    expect(write.status).toBe(2);
    mkdirSync(join(root, 'ro'), { mode: 0o555 });
    chmodSync(join(root, 'ro'), 0o555);
    const create = strata('--url', 'sqlite:ro/x.db', 'set', 'a', 'k', '1');
    expect(create.stderr).toMatch(/BAD_INPUT[\s\S]*writable/);
    expect(create.status).toBe(2);
  });

  it('file: a read-only store directory is BAD_INPUT (exit 2)', () => {
    expect(strata('--url', 'file:fs', 'set', 'a', 'k', '1').status).toBe(0);
    chmodSync(join(root, 'fs'), 0o555);
    const write = strata('--url', 'file:fs', 'set', 'a', 'k', '2');
    expect(write.stderr).toMatch(/BAD_INPUT/);
    expect(write.status).toBe(2);
  });
});
