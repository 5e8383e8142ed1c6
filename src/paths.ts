import { closeSync, existsSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, resolve, win32 } from 'node:path';
import { checkName } from './codec/keys.js';
import { StrataError } from './errors.js';
import { redactUrl } from './redact-url.js';

/**
 * The OS-conventional data directory for an app and environment:
 * Linux `$XDG_DATA_HOME` (or `~/.local/share`), macOS `~/Library/Application Support`,
 * Windows `%APPDATA%` (or `~/AppData/Roaming`); then `<appName>/<env>`, so dev, test and prod
 * never share data. A variable that is empty or holds a relative path is ignored, as the XDG
 * Base Directory spec requires: it would resolve against whichever directory the app was
 * started from, so two launches could open two different stores.
 */
export function appDataDir(appName: string, env: string, platform: NodeJS.Platform = process.platform): string {
  checkName(appName, 'appName');
  checkName(env, 'env');
  const home = homedir();
  let base: string;
  if (platform === 'darwin') base = join(home, 'Library', 'Application Support');
  else if (platform === 'win32') base = absoluteEnv('APPDATA', win32.isAbsolute) ?? join(home, 'AppData', 'Roaming');
  else base = absoluteEnv('XDG_DATA_HOME', posix.isAbsolute) ?? join(home, '.local', 'share');
  return join(base, appName, env);
}

function absoluteEnv(name: string, isAbsolute: (path: string) => boolean): string | undefined {
  const value = process.env[name];
  return value !== undefined && isAbsolute(value) ? value : undefined;
}

/** What a store URL's path must name: a database file (`sqlite:`) or a store directory (`file:`). */
export type StorePathKind = 'file' | 'directory';

const SQLITE_MAGIC = 'SQLite format 3\0';

function badPath(url: string, message: string, hint: string, path?: string): StrataError {
  const shown = redactUrl(url);
  return new StrataError('BAD_INPUT', `store url ${JSON.stringify(shown)}: ${message}`, {
    op: 'open',
    hint,
    details: path === undefined ? { url: shown } : { url: shown, path },
  });
}

function startsWithSqliteMagic(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(SQLITE_MAGIC.length);
      return readSync(fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === SQLITE_MAGIC;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * The absolute path the target of a `sqlite:` / `file:` URL names, after refusing what a
 * user could mean two ways. Accepted: `scheme:rel/path`, `scheme:/abs/path`,
 * `scheme:///abs/path`, `scheme:~/path` (the home directory, as a shell would expand it) and
 * %-escapes. Refused with BAD_INPUT: a host (`sqlite://tmp/x.db` reads as host "tmp"),
 * `~user`, a malformed %-escape, a NUL byte, a sqlite path that ends in `/` (a directory),
 * and a path whose existing part is the wrong kind of file - so a typo never creates a
 * stray `./~` or `./tmp` directory, and never surfaces as a "retry later" I/O error.
 */
export function storePath(url: string, scheme: string, target: string, kind: StorePathKind): string {
  let raw = target;
  if (raw.startsWith('///'))
    raw = raw.slice(2); // `scheme:///abs/path`: an empty host, then the absolute path.
  else if (raw === '//')
    raw = ''; // `scheme://`: no path at all
  else if (raw.startsWith('//')) {
    const authority = raw.slice(2).split('/')[0]!;
    const rest = raw.slice(2 + authority.length);
    // Quoted back to the user: a password in it (user:password@host) is masked, as in the URL.
    const host = authority.replace(/^([^:@]*):[^@]*@/, '$1:***@');
    throw badPath(
      url,
      `"//${host}" reads as a host name, which a local store cannot have`,
      `write ${scheme}:/${host}${rest} for an absolute path or ${scheme}:${host}${rest} for one relative to the working directory`,
    );
  }
  const example = kind === 'file' ? `${scheme}:data/app.db` : `${scheme}:data/store`;
  if (raw === '') throw badPath(url, 'the URL has no path', `name the store, e.g. ${example}`);
  let home = '';
  if (raw === '~' || raw.startsWith('~/')) {
    home = homedir();
    raw = raw.slice(1);
  } else if (raw.startsWith('~')) {
    throw badPath(
      url,
      `"${raw.split('/')[0]}" (another user's home) is not expanded`,
      'write the path out in full; only ~/ (your own home directory) is expanded',
    );
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch (cause) {
    throw new StrataError('BAD_INPUT', `store url ${JSON.stringify(redactUrl(url))} has a malformed %-escape`, {
      op: 'open',
      cause,
      hint: 'write a literal "%" as %25 (a %-escape is % and two hex digits, e.g. %20 for a space)',
      details: { url: redactUrl(url) },
    });
  }
  if (decoded.includes('\0')) throw badPath(url, 'the path contains a NUL byte', 'remove the %00 from the URL');
  const path = resolve(home + decoded);
  const last = decoded.split('/').at(-1);
  if (kind === 'file' && (decoded.endsWith('/') || last === '.' || last === '..' || (home !== '' && decoded === ''))) {
    const dir = (home !== '' ? '~' : '') + decoded.replace(/\/+$/, '');
    throw badPath(
      url,
      'the path names a directory, not a database file',
      `name the file, e.g. ${scheme}:${dir === '' ? (decoded.startsWith('/') ? '/' : '') : `${dir}/`}strata.db`,
      path,
    );
  }
  checkExisting(url, scheme, path, kind);
  return path;
}

/**
 * `undefined` when nothing is there (ENOENT, or ENOTDIR: a file where a directory should be,
 * which the walk up then finds); `null` when the file system will not say (EACCES...): the
 * driver reports that itself.
 */
function statOf(url: string, path: string): Stats | undefined | null {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENAMETOOLONG') throw badPath(url, 'the path is longer than the file system allows', 'use a shorter path', path);
    if (code === 'ELOOP') throw badPath(url, 'the path runs into a loop of symbolic links', 'fix or remove the links', path);
    return code === 'ENOENT' || code === 'ENOTDIR' ? undefined : null;
  }
}

/** The existing part of `path` must be of the kind the backend will create there. */
function checkExisting(url: string, scheme: string, path: string, kind: StorePathKind): void {
  const stat = statOf(url, path);
  if (stat === null) return;
  if (stat === undefined) {
    // A missing store is created, with its directories: each existing ancestor must be a directory.
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      const up = statOf(url, dir);
      if (up === null) return;
      if (up !== undefined) {
        if (!up.isDirectory()) {
          throw badPath(
            url,
            `${dir} is a file, so ${path} cannot be created under it`,
            'choose a path whose parent is a directory',
            path,
          );
        }
        return;
      }
      if (dirname(dir) === dir) return;
    }
  }
  if (kind === 'file' && stat.isDirectory()) {
    const isFileStore = existsSync(join(path, 'journal.log'));
    throw badPath(
      url,
      `${path} is a directory, not a SQLite database file`,
      isFileStore
        ? `it holds a file: store; open it with file:${path}`
        : `name a database file inside it, e.g. ${scheme}:${join(path, 'strata.db')}`,
      path,
    );
  }
  if (kind === 'file' && !stat.isFile()) {
    throw badPath(url, `${path} is not a regular file`, 'name a regular file (a new one is created)', path);
  }
  if (kind === 'directory' && !stat.isDirectory()) {
    throw badPath(
      url,
      `${path} is a file, but a ${scheme}: store is a directory`,
      stat.isFile() && startsWithSqliteMagic(path)
        ? `it is a SQLite database; open it with sqlite:${path}`
        : `name a directory (a new one is created), e.g. ${scheme}:${path}.d`,
      path,
    );
  }
}
