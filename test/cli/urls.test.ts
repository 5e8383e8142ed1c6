import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, requireBuild, strata, type Run } from './helpers.js';

// The store URL rules as a user meets them on the command line: what `--url` may say, and
// which exit code each mistake gives. Never 6 ("retry later") for a path that is simply wrong.

let root: string;
let home: string;

beforeAll(() => {
  requireBuild();
  root = mkdtempSync(join(tmpdir(), 'strata-cli-urls-'));
  home = join(root, 'home');
  mkdirSync(home);
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function fresh(): string {
  return mkdtempSync(join(root, 'cwd-'));
}

const run = (cwd: string, ...args: string[]): Run => strata(args, { cwd, env: { HOME: home } });

/** Exit 2, BAD_INPUT with a hint, and nothing created in the working directory. */
function expectBadInput(cwd: string, url: string, command: string[] = ['set', 'app', 'k', '1']): Run {
  const before = readdirSync(cwd).sort();
  const result = run(cwd, '--url', url, ...command);
  expect(result.code, `${url}: ${result.stderr}`).toBe(2);
  expect(errorCode(result)).toBe('BAD_INPUT');
  expect(result.stderr).toMatch(/^hint: /m);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(readdirSync(cwd).sort()).toEqual(before);
  return result;
}

describe('strata --url paths', () => {
  it('sqlite:~/x.db and file:~/dir are in the home directory', () => {
    const cwd = fresh();
    expect(run(cwd, '--url', 'sqlite:~/cli.db', 'set', 'app', 'k', '1').code).toBe(0);
    expect(run(cwd, '--url', 'sqlite:~/cli.db', 'get', 'app', 'k').stdout).toBe('1\n');
    expect(run(cwd, '--url', 'file:~/cli-store', 'set', 'app', 'k', '2').code).toBe(0);
    expect(existsSync(join(home, 'cli.db'))).toBe(true);
    expect(existsSync(join(home, 'cli-store', 'journal.log'))).toBe(true);
    expect(readdirSync(cwd)).toEqual([]);
    // STRATA_URL is expanded the same way.
    const viaEnv = strata(['get', 'app', 'k'], { cwd, env: { HOME: home, STRATA_URL: 'sqlite:~/cli.db' } });
    expect(viaEnv).toMatchObject({ code: 0, stdout: '1\n' });
  });

  it('a trailing slash, a host, ~user, a bad %-escape or a NUL exit 2 and create nothing', () => {
    const cwd = fresh();
    expectBadInput(cwd, 'sqlite:dir/');
    expectBadInput(cwd, 'sqlite:~');
    const host = expectBadInput(cwd, 'sqlite://tmp/x.db');
    expect(host.stderr).toContain('sqlite:/tmp/x.db');
    expectBadInput(cwd, 'sqlite:~bob/x.db');
    expectBadInput(cwd, 'file:data/x%zz');
    expectBadInput(cwd, 'file:data/x%zz', ['list']);
    expectBadInput(cwd, 'sqlite:x%00.db');
    expectBadInput(cwd, 'sqlite:x.db?busyTimeout=later');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('sqlite:///abs/path still works', () => {
    const cwd = fresh();
    const abs = join(cwd, 'abs.db');
    expect(run(cwd, '--url', `sqlite://${abs}`, 'set', 'app', 'k', '1').code).toBe(0);
    expect(run(cwd, '--url', `sqlite:${abs}`, 'get', 'app', 'k').stdout).toBe('1\n');
  });

  it('a directory as a sqlite: store, or a file as a file: store, exits 2 for reads and writes', () => {
    const cwd = fresh();
    mkdirSync(join(cwd, 'adir'));
    writeFileSync(join(cwd, 'afile'), 'hello\n');
    for (const command of [['set', 'app', 'k', '1'], ['get', 'app', 'k'], ['list'], ['stats'], ['verify']]) {
      expectBadInput(cwd, 'sqlite:adir', command);
      expectBadInput(cwd, 'file:afile', command);
      expectBadInput(cwd, 'sqlite:afile/x.db', command);
    }
    expect(readFileSync(join(cwd, 'afile'), 'utf8')).toBe('hello\n');
    expect(readdirSync(join(cwd, 'adir'))).toEqual([]);
  });

  it('a file that is not a store exits 5 (CORRUPT) and is left as it was', () => {
    const cwd = fresh();
    const text = 'just some text, not a database: it is long enough to hold a SQLite header\n'.repeat(3);
    writeFileSync(join(cwd, 'text.db'), text);
    for (const command of [['get', 'app', 'k'], ['set', 'app', 'k', '1'], ['verify']]) {
      const result = run(cwd, '--url', 'sqlite:text.db', ...command);
      expect(result.code, result.stderr).toBe(5);
      // verify reports a store it cannot open as a finding on stdout; the others as an error.
      if (command[0] === 'verify') expect(result.stdout).toContain('CORRUPT');
      else expect(errorCode(result)).toBe('CORRUPT');
    }
    expect(readFileSync(join(cwd, 'text.db'), 'utf8')).toBe(text);
    mkdirSync(join(cwd, 'junk'));
    writeFileSync(join(cwd, 'junk', 'journal.log'), 'garbage\n');
    const junk = run(cwd, '--url', 'file:junk', 'list');
    expect(junk.code).toBe(5);
    expect(readFileSync(join(cwd, 'junk', 'journal.log'), 'utf8')).toBe('garbage\n');
  });
});
