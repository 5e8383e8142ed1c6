import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/exit-codes.js';
import { errorCode, requireBuild, strata, type Run } from './helpers.js';
import { sealSmallRecord } from '../../src/drivers/file/small-record.js';

// The exit-code table of the README, held for every command: a script branching on `$?`
// must get the same answer from `get` as from `query` or `stats`.

let dir: string;
let good: string;
let garbled: string;
const run = (...args: string[]): Run => strata(args, { cwd: dir });

beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-exit-'));
  good = `sqlite:${join(dir, 'good.db')}`;
  expect(run('--url', good, 'set', 'app', 'theme', '"dark"').code).toBe(0);
  expect(run('--url', good, 'set', '-c', 'tasks', 't1', '{"title":"a"}').code).toBe(0);
  garbled = join(dir, 'garbled.db');
  writeFileSync(garbled, randomBytes(16_384));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** One invocation per command, reading or writing the store at `url`. */
function everyCommand(url: string): string[][] {
  return [
    ['get', 'app', 'theme'],
    ['set', 'app', 'theme', '"light"'],
    ['del', 'app', 'theme'],
    ['list'],
    ['list', 'app'],
    ['query', 'tasks'],
    ['stats'],
    ['verify'],
    ['demo', '--records', '10'],
  ].map((command) => ['--url', url, ...command]);
}

function expectExit(args: string[], code: number, strataCode?: string): Run {
  const result = run(...args);
  expect(result.code, `strata ${args.join(' ')}: ${result.stderr}`).toBe(code);
  // `verify` reports damage as a finding on stdout; everything else as `error <CODE>`.
  if (strataCode !== undefined && args[2] !== 'verify') expect(errorCode(result)).toBe(strataCode);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result;
}

describe('exit codes', () => {
  it('the README table is the one `strata --help` prints, and names every code the CLI uses', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| code | meaning |'));
    const readmeCodes = [...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    const help = run('--help').stdout;
    const helpCodes = [...help.slice(help.indexOf('Exit codes:')).matchAll(/^\s+(\d+)\s{2}/gm)].map((m) => Number(m[1]));
    expect(readmeCodes).toEqual(helpCodes);
    expect([...readmeCodes].sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  it('CORRUPT exits 5 from every command', () => {
    for (const args of everyCommand(`sqlite:${garbled}`)) expectExit(args, 5, 'CORRUPT');
    const files = join(dir, 'damaged-files');
    mkdirSync(files);
    writeFileSync(join(files, 'journal.log'), 'not a journal\n');
    for (const args of everyCommand(`file:${files}`)) expectExit(args, 5, 'CORRUPT');
  });

  it('a directory as a sqlite: store, or a file as a file: store, exits 2 from every command', () => {
    mkdirSync(join(dir, 'a-directory'), { recursive: true });
    writeFileSync(join(dir, 'a-file'), 'x');
    for (const args of everyCommand(`sqlite:${join(dir, 'a-directory')}`)) expectExit(args, 2, 'BAD_INPUT');
    for (const args of everyCommand(`file:${join(dir, 'a-file')}`)) expectExit(args, 2, 'BAD_INPUT');
    for (const args of everyCommand('sqlite:dir/')) expectExit(args, 2, 'BAD_INPUT');
  });

  it('BAD_INPUT exits 2', () => {
    expectExit(['--url', good, 'set', 'app', 'k', 'not-json'], 2, 'BAD_INPUT');
    expectExit(['--url', good, 'set', 'app', 'k', '1', '--ttl', 'soon'], 2, 'BAD_INPUT');
    expectExit(['--url', good, 'query', 'tasks', '{"a":{"$regex":"x"}}'], 2, 'BAD_INPUT');
    expectExit(['--url', good, 'query', 'tasks', '--limit', 'ten'], 2, 'BAD_INPUT');
    expectExit(['--url', `${good}?mmap=lots`, 'get', 'app', 'theme'], 2, 'BAD_INPUT');
    expectExit(['--url', `${good}?durabilty=normal`, 'stats'], 2, 'BAD_INPUT');
    expectExit(['--url', 'file:data/x%zz', 'list'], 2, 'BAD_INPUT');
    expectExit(['--url', good, 'demo', '--records', '2000000'], 2, 'BAD_INPUT');
  });

  it('NOT_FOUND exits 3; a kv namespace given to query gets a hint without -c (query has none)', () => {
    expectExit(['--url', good, 'get', 'app', 'missing'], 3, 'NOT_FOUND');
    expectExit(['--url', good, 'del', 'app', 'missing'], 3, 'NOT_FOUND');
    expectExit(['--url', good, 'list', 'nosuch'], 3, 'NOT_FOUND');
    expectExit(['--url', `sqlite:${join(dir, 'never.db')}`, 'stats'], 3, 'NOT_FOUND');
    const query = expectExit(['--url', good, 'query', 'app'], 3, 'NOT_FOUND');
    expect(query.stderr).not.toMatch(/-c\b/);
    expect(query.stderr).toContain('`strata list app`');
    expect(run('--url', good, 'list', 'app').code).toBe(0); // the hint's command works
    const get = expectExit(['--url', good, 'get', '-c', 'app', 'theme'], 3, 'NOT_FOUND');
    expect(get.stderr).toMatch(/drop -c/); // get has -c
  });

  it('CONFLICT exits 4', () => {
    expectExit(['--url', good, 'set', 'app', 'v', '1', '--if-version', '7'], 4, 'CONFLICT');
    expectExit(['--url', good, 'set', '-c', 'tasks', 't1', '{"title":"b"}', '--if-version', '0'], 4, 'CONFLICT');
  });

  it('LOCKED exits 6, and the hint names ?lockTimeout=, which works', () => {
    const store = join(dir, 'locked');
    const url = `file:${store}`;
    expect(run('--url', url, 'set', 'app', 'k', '1').code).toBe(0);
    // A lock held by a live process (this test runner) on this host.
    const owner = { pid: process.pid, host: hostname(), token: 'held-by-test', at: Date.now() };
    writeFileSync(join(store, 'strata.lock'), sealSmallRecord(owner));
    const started = Date.now();
    const locked = expectExit(['--url', `${url}?lockTimeout=300`, 'set', 'app', 'k', '2'], 6, 'LOCKED');
    expect(Date.now() - started).toBeLessThan(10_000); // not the 10 s default
    expect(locked.stderr).toContain('?lockTimeout=');
    expectExit(['--url', `${url}?lockTimeout=0`, 'set', 'app', 'k', '2'], 6, 'LOCKED');
    rmSync(join(store, 'strata.lock'));
    expect(run('--url', `${url}?lockTimeout=300`, 'get', 'app', 'k').stdout).toBe('1\n');
  });

  it('LOCKED exits 6 on sqlite while another process holds the write lock, after ?busyTimeout=', async () => {
    const path = join(dir, 'busy.db');
    expect(run('--url', `sqlite:${path}`, 'set', 'app', 'k', '1').code).toBe(0);
    // Another process takes SQLite's write lock and holds it until killed.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(${JSON.stringify(path)}); db.exec('BEGIN IMMEDIATE'); console.log('locked'); setInterval(() => {}, 1000);`,
      ],
      { cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((ready) => holder.stdout.once('data', () => ready()));
      const started = Date.now();
      const locked = expectExit(['--url', `sqlite:${path}?busyTimeout=300`, 'set', 'app', 'k', '2'], 6, 'LOCKED');
      expect(Date.now() - started).toBeLessThan(8_000); // not the 10 s default
      expect(locked.stderr).toContain('?busyTimeout=');
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise((r) => holder.once('close', r));
    expect(run('--url', `sqlite:${path}`, 'get', 'app', 'k').stdout).toBe('1\n');
  });
});
