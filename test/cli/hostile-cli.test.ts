import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requireBuild, startStrata, strata } from './helpers.js';
import { sealSmallRecord } from '../../src/drivers/file/small-record.js';

// Hostile arguments, --json purity, --log-level ordering and Ctrl-C of the general commands.

let dir: string;
beforeEach(async () => {
  requireBuild();
  dir = await mkdtemp(join(tmpdir(), 'strata-hostile-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) => strata(args, { cwd: dir });

describe('hostile arguments', () => {
  it('an integer JSON cannot hold exactly is BAD_INPUT (exit 2), not stored changed; the store keeps its value', () => {
    const url = `sqlite:${join(dir, 'a.db')}`;
    expect(run('--url', url, 'set', 'app', 'id', '1').code).toBe(0);
    for (const value of ['123456789012345678901234567890', '{"a":[9007199254740993]}', '-9007199254740993']) {
      const r = run('--url', url, 'set', 'app', 'id', value);
      expect(r.code, value).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^error BAD_INPUT: the value has the integer -?\d+, which a JSON number cannot hold exactly/);
      expect(r.stderr).toContain('hint: quote it');
    }
    const doc = run('--url', url, 'set', '-c', 'docs', 'd1', '{"n":18446744073709551616}');
    expect(doc.code).toBe(2);
    expect(doc.stderr).toContain('the document has the integer 18446744073709551616');
    expect(run('--url', url, 'get', 'app', 'id', '--json').stdout).toBe('1\n');
    // Safe integers, floats by intent and digits inside strings are fine.
    const ok = run('--url', url, 'set', 'app', 'id', '{"s":"123456789012345678901234567890","n":9007199254740991,"f":1.5e300}');
    expect(ok.code).toBe(0);
    expect(JSON.parse(run('--url', url, 'get', 'app', 'id', '--json').stdout)).toEqual({
      s: '123456789012345678901234567890',
      n: 9007199254740991,
      f: 1.5e300,
    });
  });

  it('integer options take decimal digits only: --limit 0x10, 1e3, " 5", -1 and --if-version 1e0 exit 2', () => {
    const url = `sqlite:${join(dir, 'b.db')}`;
    expect(run('--url', url, 'set', 'app', 'k', '1').code).toBe(0);
    for (const limit of ['0x10', '1e3', ' 5', '-1', '0', '1.0', '99999999999999999999']) {
      const r = run('--url', url, 'list', 'app', '--limit', limit);
      expect(r.code, limit).toBe(2);
      expect(r.stderr).toContain('error BAD_INPUT: --limit must be a whole number from 1 to 9007199254740991');
    }
    const v = run('--url', url, 'set', 'app', 'k', '2', '--if-version', '1e0');
    expect(v.code).toBe(2);
    expect(run('--url', url, 'get', 'app', 'k').stdout).toBe('1\n');
    expect(run('--url', url, 'list', 'app', '--limit', '1').stdout).toBe('k\n');
  });

  it('keys with a newline, NUL-free control characters or unicode round-trip; list prints one line per key', () => {
    const url = `sqlite:${join(dir, 'c.db')}`;
    for (const key of ['a\nb', 'tab\there', 'é日本', 'x\u2028y']) expect(run('--url', url, 'set', 'app', key, '1').code).toBe(0);
    const listed = run('--url', url, 'list', 'app');
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual(['"a\\nb"', '"tab\\there"', 'x\u2028y', 'é日本']);
    expect(JSON.parse(run('--url', url, '--json', 'list', 'app').stdout)).toEqual(['a\nb', 'tab\there', 'x\u2028y', 'é日本']);
    expect(run('--url', url, 'get', 'app', 'a\nb', '--json').stdout).toBe('1\n');
  });

  it('a bad --log-level is a usage error (exit 2) before anything about the store, and creates nothing', () => {
    const path = join(dir, 'missing.db');
    for (const level of ['trace', 'DEBUG', '', 'info\n']) {
      const r = run('--log-level', level, '--url', `sqlite:${path}`, 'get', 'app', 'k');
      expect(r.code, JSON.stringify(level)).toBe(2);
      expect(r.stderr).toContain('error BAD_INPUT: --log-level must be one of error, warn, info, debug');
      const w = run('--log-level', level, '--url', `sqlite:${path}`, 'set', 'app', 'k', '1');
      expect(w.code).toBe(2);
    }
    expect(existsSync(path)).toBe(false);
  });
});

describe('credentials in a refused URL', () => {
  it('error lines mask the password and credential-named parameters of the URL they quote', () => {
    for (const [url, secret] of [
      ['postgres://app:hunter2-PLANTED@db.example/app', 'hunter2-PLANTED'],
      ['https://u:pw-PLANTED@h/db?sig=zz', 'pw-PLANTED'],
      [`sqlite:${join(dir, 'x.db')}?token=tok-PLANTED`, 'tok-PLANTED'],
      [`sqlite:${join(dir, 'x.db')}?apiKey=key-PLANTED&busyTimeout=5`, 'key-PLANTED'],
    ] as const) {
      for (const env of [{}, { STRATA_URL: url }] as Array<Record<string, string>>) {
        const args = 'STRATA_URL' in env ? ['list'] : ['--url', url, 'list'];
        for (const debug of [[], ['--debug']]) {
          const r = strata([...debug, ...args], { cwd: dir, env });
          expect(r.code, url).toBe(2);
          expect(r.stderr).toMatch(/^error BAD_INPUT: /);
          expect(r.stderr).not.toContain(secret);
          expect(r.stderr).toContain('***');
        }
      }
    }
  });
});

describe('--json output', () => {
  it('is one JSON document on stdout for every general command, with store logs on stderr only', () => {
    const url = `sqlite:${join(dir, 'j.db')}`;
    expect(run('--url', url, 'set', 'auth', 'refresh:ana@example.com', '"TOKEN-PLANTED-42"').code).toBe(0);
    expect(run('--url', url, 'set', '-c', 'docs', 'd1', '{"secret":"DOC-PLANTED-7"}').code).toBe(0);
    const commands = [
      ['set', 'auth', 'other', '"x"'],
      ['get', 'auth', 'refresh:ana@example.com'],
      ['get', 'auth', 'refresh:ana@example.com', '--entry'],
      ['list'],
      ['list', 'auth', '--limit', '1'],
      ['list', '-c', 'docs'],
      ['query', 'docs', '{}'],
      ['query', 'docs', '{}', '--count'],
      ['stats'],
      ['verify'],
      ['del', 'auth', 'other'],
    ];
    for (const args of commands) {
      const r = run('--url', url, '--json', '--log-level', 'debug', ...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout.endsWith('\n')).toBe(true);
      expect(r.stdout.trimEnd().includes('\n'), args.join(' ')).toBe(false);
      expect(() => JSON.parse(r.stdout) as unknown, args.join(' ')).not.toThrow();
      const lines = r.stderr.split('\n').filter(Boolean);
      const logs = lines.filter((l) => l.startsWith('{'));
      expect(logs.length).toBeGreaterThanOrEqual(2); // open and close at least
      for (const line of logs) expect(() => JSON.parse(line) as unknown).not.toThrow();
      // Keys and values never reach a log line, at debug level either.
      for (const planted of ['TOKEN-PLANTED-42', 'DOC-PLANTED-7', 'ana@example.com', 'refresh:']) {
        for (const line of logs) expect(line).not.toContain(planted);
      }
    }
    // A failure: nothing on stdout, the error line on stderr, the log line without the key.
    const missing = run('--url', url, '--json', '--log-level', 'debug', 'get', 'auth', 'missing:bob@example.com');
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe('');
    const logs = missing.stderr.split('\n').filter((l) => l.startsWith('{'));
    for (const line of logs) expect(line).not.toContain('bob@example.com');
  });
});

/** Preloaded into the CLI: says `sigint-listener` on stderr once the CLI listens for SIGINT. */
const SIGINT_READY = pathToFileURL(join(import.meta.dirname, '../fixtures/sigint-ready.mjs')).href;

async function sigintListened(stderr: () => string): Promise<void> {
  for (let i = 0; i < 600 && !stderr().includes('sigint-listener'); i++) await new Promise((r) => setTimeout(r, 50));
  if (!stderr().includes('sigint-listener')) throw new Error('the CLI never listened for SIGINT');
}

describe('Ctrl-C', () => {
  it('a command waiting on a file: store lock exits 130 at SIGINT; the store keeps its value and opens again', async () => {
    const store = join(dir, 'locked');
    const url = `file:${store}`;
    expect(run('--url', url, 'set', 'app', 'k', '1').code).toBe(0);
    // A lock held by a live process (this test runner): the commands wait for it.
    const lock = join(store, 'strata.lock');
    writeFileSync(lock, sealSmallRecord({ pid: process.pid, host: hostname(), token: 'held-by-test', at: Date.now() }));
    for (const args of [
      ['set', 'app', 'k', '2'],
      ['del', 'app', 'k'],
      ['--json', 'verify'],
    ]) {
      let stderr = '';
      const { child, done } = startStrata(['--url', `${url}?lockTimeout=60s`, ...args], {
        cwd: dir,
        env: { NODE_OPTIONS: `--import ${SIGINT_READY}` },
      });
      child.stderr.on('data', (d: string) => (stderr += d));
      await sigintListened(() => stderr);
      child.kill('SIGINT');
      const result = await done;
      expect(result.signal, args.join(' ')).toBeNull();
      expect(result.code, args.join(' ')).toBe(130);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('interrupted');
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(existsSync(lock)).toBe(true); // the test's lock is not another process's to remove
    }
    await rm(lock);
    expect(run('--url', url, 'get', 'app', 'k').stdout).toBe('1\n');
    expect(run('--url', url, 'verify').code).toBe(0);
  }, 60_000);
});
