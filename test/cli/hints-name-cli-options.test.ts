import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { errorCode, requireBuild, strata, type Run } from '../cli/helpers.js';

// The hints the CLI prints. `strata --help`: "Errors print on stderr as `error <CODE>: message`
// plus a hint"; README.md "### Errors": "a `hint` that says what to do". The hints are the
// library's, shared with the JavaScript API: where the fix is an option, a hint names the
// API's form and the CLI's (`pass { to: ... } (CLI: --to <dir>)`), and every CLI option it
// names exists.

let root: string;
let demoUrl: string;
let otherKeys: string;
let exportFile: string;

const run = (...args: string[]): Run => strata(args, { cwd: root });
const hintOf = (r: Run): string => /^hint: (.*)$/m.exec(r.stderr)?.[1] ?? '';
/** Every long option of the program and its subcommands. */
function cliFlags(): Set<string> {
  const all = (command: Command): string[] => [
    ...command.options.flatMap((o) => (o.long === undefined ? [] : [o.long])),
    ...command.commands.flatMap(all),
  ];
  return new Set([...all(buildProgram()), '--help']);
}

beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-hints-'));
  demoUrl = `sqlite:${join(root, 'demo.db')}`;
  expect(run('--url', demoUrl, '-q', 'demo', '--records', '20').code).toBe(0);
  otherKeys = join(root, 'other.keys');
  writeFileSync(otherKeys, `k9:${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  exportFile = join(root, 'demo.strata');
  expect(run('--url', demoUrl, 'export', exportFile).code).toBe(0);
  writeFileSync(join(root, 'a-file'), 'x\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function accessKey(): string {
  const r = run('--url', demoUrl, 'list', 'auth.tokens', '--prefix', 'access:');
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

describe('hints name the CLI option that does the job', () => {
  // Each row: the command, the CLI option the hint should point at.
  const cases: Array<{ name: string; args: () => string[]; wants: RegExp }> = [
    {
      name: 'get of an encrypted token without the keyring',
      args: () => ['--url', demoUrl, 'get', 'auth.tokens', accessKey()],
      wants: /--keys-file|STRATA_KEYS/,
    },
    {
      name: 'backup create on a memory: store',
      args: () => ['--url', 'memory:', 'backup', 'create'],
      wants: /--to\b/,
    },
    {
      name: 'backup list on a memory: store',
      args: () => ['--url', 'memory:', 'backup', 'list'],
      wants: /--dir\b/,
    },
    {
      name: "export onto the store's own file",
      args: () => ['--url', demoUrl, 'export', join(root, 'demo.db')],
      wants: /strata export/,
    },
    {
      name: 'export to an empty path',
      args: () => ['--url', demoUrl, 'export', ''],
      wants: /strata export/,
    },
    {
      name: 'import from an empty path',
      args: () => ['--url', demoUrl, 'import', ''],
      wants: /strata import/,
    },
    {
      name: 'migrate status with a --dir that does not exist',
      args: () => ['--url', demoUrl, 'migrate', 'status', '--dir', join(root, 'no-migrations')],
      wants: /--dir\b/,
    },
    {
      name: 'migrate status with a --dir that is a file',
      args: () => ['--url', demoUrl, 'migrate', 'status', '--dir', join(root, 'a-file')],
      wants: /--dir\b/,
    },
    {
      name: 'a keyring that lacks a key still in use',
      args: () => ['--url', demoUrl, '--keys-file', otherKeys, 'list'],
      wants: /--keys-file|STRATA_KEYS/,
    },
    {
      name: 'import of an encrypted export with another keyring',
      args: () => ['--url', `sqlite:${join(root, 'target.db')}`, '--keys-file', otherKeys, 'import', exportFile],
      wants: /--decrypt/,
    },
    {
      name: '--keys-file naming a file that does not exist',
      args: () => ['--url', demoUrl, '--keys-file', join(root, 'no-such.keys'), 'list'],
      wants: /--keys-file/,
    },
  ];

  it.each(cases)('$name', ({ args, wants }) => {
    const r = run(...args());
    expect(r.code, r.stderr).not.toBe(0);
    expect(errorCode(r), r.stderr).toBeDefined();
    const hint = hintOf(r);
    expect(hint, `no hint in: ${r.stderr}`).not.toBe('');
    expect(hint, `the hint does not name the CLI option: ${r.stderr}`).toMatch(wants);
    const flags = cliFlags();
    for (const flag of hint.match(/--[a-z][a-z-]*/g) ?? []) expect(flags, `${flag} in: ${hint}`).toContain(flag);
  });
});

describe('a directory where a file is expected, and a file where a directory is expected', () => {
  // `--keys-file <path>`: "the encryption keyring ... in a file only you can read". A directory
  // (mode 0755) is refused as not a file, before its mode is looked at: `chmod 600` would not help.
  it('--keys-file naming a directory says it is not a file, and does not hint chmod 600', () => {
    const dir = join(root, 'keys-dir');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const r = run('--url', demoUrl, '--keys-file', dir, 'list');
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('chmod 600');
    expect(r.stderr).toMatch(/director|not a (regular )?file/);
  });

  // The exit-code table: 6 is "LOCKED, TIMEOUT, UNAVAILABLE (retry later)", 2 is "usage error,
  // BAD_INPUT". A --to / --dir naming a regular file is the caller's to fix (retrying never
  // helps): BAD_INPUT, exit 2, with a hint naming the options.
  it.each([
    ['backup create --to <a file>', ['backup', 'create', '--to']],
    ['backup list --dir <a file>', ['backup', 'list', '--dir']],
  ])('%s exits 2 (BAD_INPUT) with a hint naming the option, not 6', (_name, args) => {
    const r = run('--url', demoUrl, ...args, join(root, 'a-file'));
    expect(r.code, r.stderr).toBe(2);
    expect(errorCode(r)).toBe('BAD_INPUT');
    expect(hintOf(r)).not.toContain('see `cause`');
    expect(hintOf(r)).toMatch(/--to\b.*--dir\b/);
  });
});
