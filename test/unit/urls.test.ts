import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { driverFromUrl, storeLocation } from '../../src/drivers/registry.js';
import { expectCode } from '../conformance/index.js';

// Store URLs name local paths; every way of writing one that could mean two things is refused
// with BAD_INPUT before anything is created, and a path of the wrong kind is BAD_INPUT (a
// caller's mistake) or CORRUPT (a file that should be a store and is not), never UNAVAILABLE.

let root: string;
let cwd: string;
let home: string;
const saved = { cwd: process.cwd(), home: process.env.HOME };

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'strata-urls-'));
  home = join(root, 'home');
  mkdirSync(home);
  // os.homedir() reads $HOME on POSIX: a private home keeps the test off the real one.
  process.env.HOME = home;
});

afterAll(() => {
  process.chdir(saved.cwd);
  if (saved.home === undefined) delete process.env.HOME;
  else process.env.HOME = saved.home;
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  cwd = mkdtempSync(join(root, 'cwd-'));
  process.chdir(cwd);
});

async function roundTrip(url: string): Promise<void> {
  const store = await openStore(url);
  await store.kv('app').set('k', 1);
  await store.close();
  const again = await openStore(url);
  expect(await again.kv('app').get('k')).toBe(1);
  await again.close();
}

/** A refusal leaves the working directory (and the home directory) as they were. */
async function refused(url: string, code: 'BAD_INPUT' | 'CORRUPT'): Promise<StrataError> {
  const before = { cwd: readdirSync(cwd).sort(), home: readdirSync(home).sort() };
  const error = await expectCode(openStore(url), code);
  expect({ cwd: readdirSync(cwd).sort(), home: readdirSync(home).sort() }).toEqual(before);
  expect(error.hint, `${url}: a refusal says what to write instead`).toBeTruthy();
  return error;
}

describe('store URLs: ~ expansion', () => {
  it('sqlite:~/x.db is the home directory, not a ./~ directory', async () => {
    await roundTrip('sqlite:~/x.db');
    expect(existsSync(join(home, 'x.db'))).toBe(true);
    expect(existsSync(join(cwd, '~'))).toBe(false);
    expect(storeLocation('sqlite:~/x.db')).toBe(join(home, 'x.db'));
  });

  it('file:~/dir is a directory in the home directory', async () => {
    await roundTrip('file:~/data/store');
    expect(existsSync(join(home, 'data/store/journal.log'))).toBe(true);
    expect(existsSync(join(cwd, '~'))).toBe(false);
  });

  it('~user is refused rather than created literally; a %7E is a literal ~', async () => {
    await refused('sqlite:~bob/x.db', 'BAD_INPUT');
    await roundTrip('sqlite:%7E.db');
    expect(existsSync(join(cwd, '~.db'))).toBe(true);
  });
});

describe('store URLs: ambiguous paths are BAD_INPUT', () => {
  it('sqlite:dir/ (a trailing slash names a directory, not a database file)', async () => {
    for (const url of ['sqlite:dir/', 'sqlite:dir//', 'sqlite:dir/.', 'sqlite:.', 'sqlite:..', 'sqlite:~', 'sqlite:~/']) {
      await refused(url, 'BAD_INPUT');
    }
    expect(existsSync(join(cwd, 'dir'))).toBe(false);
  });

  it('sqlite://tmp/x.db (a host) is refused; sqlite:///abs/path is an absolute path', async () => {
    const error = await refused('sqlite://tmp/x.db', 'BAD_INPUT');
    expect(error.hint).toContain('sqlite:/tmp/x.db');
    expect(error.hint).toContain('sqlite:tmp/x.db');
    await refused('file://tmp/dir', 'BAD_INPUT');
    await refused('sqlite://localhost/x.db', 'BAD_INPUT');
    expect(existsSync(join(cwd, 'tmp'))).toBe(false);
    const abs = join(cwd, 'abs.db');
    await roundTrip(`sqlite://${abs}`);
    expect(existsSync(abs)).toBe(true);
    await roundTrip(`sqlite:${join(cwd, 'abs2.db')}`);
  });

  it('a malformed %-escape is BAD_INPUT, never a bare URIError', async () => {
    for (const url of ['file:data/x%zz', 'sqlite:data/x%zz', 'sqlite:x%', 'file:%E0%A4%A']) {
      const error = await refused(url, 'BAD_INPUT');
      expect(error).toBeInstanceOf(StrataError);
      expect(error.cause).toBeInstanceOf(URIError);
    }
    expect(() => storeLocation('file:data/x%zz')).toThrow(StrataError);
    await roundTrip('sqlite:a%20b.db');
    expect(existsSync(join(cwd, 'a b.db'))).toBe(true);
  });

  it('a NUL byte and an empty path are BAD_INPUT', async () => {
    await refused('sqlite:a%00b.db', 'BAD_INPUT');
    await refused('sqlite:', 'BAD_INPUT');
    await refused('file:', 'BAD_INPUT');
    await refused('sqlite://', 'BAD_INPUT');
    await refused(`sqlite:${'n'.repeat(300)}.db`, 'BAD_INPUT'); // longer than a file name may be
  });
});

describe('store URLs: a path of the wrong kind', () => {
  it('sqlite: naming an existing directory is BAD_INPUT (not UNAVAILABLE)', async () => {
    mkdirSync(join(cwd, 'adir'));
    await refused('sqlite:adir', 'BAD_INPUT');
    // A file: store's directory: the hint says to open it with file:.
    await roundTrip('file:fstore');
    const error = await refused('sqlite:fstore', 'BAD_INPUT');
    expect(error.hint).toContain(`file:${join(cwd, 'fstore')}`);
  });

  it('file: naming a regular file is BAD_INPUT (not UNAVAILABLE); a SQLite file gets a sqlite: hint', async () => {
    writeFileSync(join(cwd, 'notes.txt'), 'hello\n');
    await refused('file:notes.txt', 'BAD_INPUT');
    await roundTrip('sqlite:app.db');
    const error = await refused('file:app.db', 'BAD_INPUT');
    expect(error.hint).toContain(`sqlite:${join(cwd, 'app.db')}`);
  });

  it('a path under a regular file is BAD_INPUT for both backends', async () => {
    writeFileSync(join(cwd, 'plain'), 'x');
    await refused('sqlite:plain/x.db', 'BAD_INPUT');
    await refused('file:plain/sub/dir', 'BAD_INPUT');
    expect(readFileSync(join(cwd, 'plain'), 'utf8')).toBe('x');
  });

  it('a device or other non-regular file is BAD_INPUT for sqlite:', async () => {
    await expectCode(openStore('sqlite:/dev/null'), 'BAD_INPUT');
  });

  it('a file that exists but is not a store is CORRUPT, and is left as it was', async () => {
    const text = 'not a database, just a text file that happens to be long enough to have a header\n'.repeat(4);
    writeFileSync(join(cwd, 'text.db'), text);
    await refused('sqlite:text.db', 'CORRUPT');
    expect(readFileSync(join(cwd, 'text.db'), 'utf8')).toBe(text);
    mkdirSync(join(cwd, 'junk'));
    writeFileSync(join(cwd, 'junk/journal.log'), 'garbage\n');
    await refused('file:junk', 'CORRUPT');
    expect(readFileSync(join(cwd, 'junk/journal.log'), 'utf8')).toBe('garbage\n');
  });
});

describe('store URLs: appName', () => {
  it('a data directory with %, ? or # in its name is used as it is', async () => {
    const saved = process.env.XDG_DATA_HOME;
    process.env.XDG_DATA_HOME = join(cwd, 'odd%zz?x=1#y');
    try {
      const store = await openStore({ appName: 'demo', env: 'test' });
      await store.kv('app').set('k', 1);
      await store.close();
      expect(existsSync(join(cwd, 'odd%zz?x=1#y', 'demo', 'test', 'strata.db'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.XDG_DATA_HOME;
      else process.env.XDG_DATA_HOME = saved;
    }
  });
});

describe('store URLs: timeouts', () => {
  it('sqlite: takes ?busyTimeout= and file: takes ?lockTimeout= (ms or a duration)', async () => {
    await roundTrip('sqlite:t.db?busyTimeout=30s');
    await roundTrip('sqlite:t.db?busyTimeout=0');
    await roundTrip('file:t?lockTimeout=2500');
    await refused('sqlite:t2.db?busyTimeout=soon', 'BAD_INPUT');
    await refused('sqlite:t2.db?busyTimeout=-1', 'BAD_INPUT');
    await refused('file:t2?lockTimeout=1x', 'BAD_INPUT');
    await refused('file:t2?busyTimeout=1s', 'BAD_INPUT');
    await refused('sqlite:t2.db?lockTimeout=1s', 'BAD_INPUT');
    const driver = await driverFromUrl('sqlite::memory:?busyTimeout=1s', 'full');
    await driver.close();
  });
});
