import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, strata, type Run } from '../cli/helpers.js';

// Hostile options and arguments on the command line: usage errors, integer options, --sort
// field paths and the paging of `list`.

let root: string;
let url: string;
const run = (...args: string[]): Run => strata(args, { cwd: root });

beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-options-'));
  url = `sqlite:${join(root, 'app.db')}`;
  for (const k of ['a', 'b', 'c']) expect(run('--url', url, 'set', 'app', k, '1').code).toBe(0);
  expect(run('--url', url, 'set', '-c', 'docs', 'd1', '{"n":2}').code).toBe(0);
  expect(run('--url', url, 'set', '-c', 'docs', 'd2', '{"n":1}').code).toBe(0);
  expect(run('--url', url, '-q', 'backup', 'create').code).toBe(0);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('usage errors print as `error <CODE>: message` plus a hint', () => {
  // `strata --help`: "Errors print on stderr as `error <CODE>: message` plus a hint." A parse
  // failure is BAD_INPUT (exit 2) like any other refusal; the hint names the help of the
  // command being parsed.
  it.each([
    ['an unknown option', ['get', 'app', 'a', '--bogus'], 'strata get --help'],
    ['an unknown command', ['bogus'], 'strata --help'],
    ['a missing argument', ['get', 'app'], 'strata get --help'],
    ['a missing value of a global option', ['get', 'app', 'a', '--url'], 'strata --help'],
    ['too many arguments', ['get', 'app', 'a', 'extra'], 'strata get --help'],
    ['a value outside --mode choices', ['import', 'x.strata', '--mode', 'overwrite'], 'strata import --help'],
    ['an unknown option of a subcommand', ['backup', 'prune', '--bogus'], 'strata backup prune --help'],
  ])('%s', (_name, args, help) => {
    const r = run('--url', url, ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error BAD_INPUT: /m);
    expect(r.stderr).not.toMatch(/^error: /m); // commander's own line is not printed as well
    expect(r.stderr).toContain(`hint: see \`${help}\``);
  });
});

describe('integer options take decimal digits only', () => {
  // README.md "## CLI": "Integer options (`--limit`, `--if-version`) take decimal digits only."
  // `backup prune --keep` and `rotate-keys --batch-size` too: 0x10, 1e1 and " 5" are refused,
  // never read as 16, 10 and 5.
  it.each(['0x10', '1e1', ' 5', '5 '])('backup prune --keep %j exits 2', (keep) => {
    const r = run('--url', url, 'backup', 'prune', '--keep', keep, '--dry-run');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('--keep');
  });

  it.each(['0x10', '1e2', ' 7'])('rotate-keys --batch-size %j exits 2', (size) => {
    const r = strata(['--url', url, 'rotate-keys', '--batch-size', size], {
      cwd: root,
      env: { STRATA_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` },
    });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('--batch-size');
  });
});

describe('__proto__ in a --sort is refused like any malformed field path', () => {
  // `strata query --help`: "An unknown operator or a malformed filter exits 2 (BAD_INPUT)";
  // the query layer refuses "__proto__" and "constructor" as field paths, and the sort the CLI
  // builds keeps a "__proto__" field (no prototype setter swallows it), so it is refused too.
  it.each([['{"__proto__":-1}'], ['__proto__:desc'], ['-__proto__']])('--sort %s exits 2 (BAD_INPUT)', (sort) => {
    const r = run('--url', url, 'query', 'docs', '--sort', sort, '--json');
    expect(r.code, `stdout ${r.stdout}`).toBe(2);
    expect(r.stderr).toMatch(/^error BAD_INPUT: /m);
  });
});

describe('list --limit', () => {
  // `strata list --help`: "When --limit cuts the list, stderr says how to go on." Only then.
  it('says nothing about a next page when the keys fit in the limit', () => {
    const r = run('--url', url, 'list', 'app', '--limit', '3');
    expect(r.stdout).toBe('a\nb\nc\n');
    expect(run('--url', url, 'list', 'app', '--after', 'c').stdout).toBe(''); // there is no next page
    expect(r.stderr).not.toContain('next page');
  });

  it('names the next page when the list is cut', () => {
    const r = run('--url', url, 'list', 'app', '--limit', '2');
    expect(r.stdout).toBe('a\nb\n');
    expect(r.stderr).toContain('next page: --after "b"');
    expect(run('--url', url, 'list', 'app', '--after', 'b').stdout).toBe('c\n');
  });
});
