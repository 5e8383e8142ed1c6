import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, isAbsolute } from 'node:path';
import type { Command } from 'commander';
import { StrataError } from '../errors.js';
import { Cli, localPath, type GlobalOptions } from './context.js';

/** Where the demo's keyring came from (never the key itself). */
export interface DemoKeyring {
  /** `keys-file` / `env`: given by the user; `demo-file`: the demo's own file; `ephemeral`: made for a memory store. */
  source: 'keys-file' | 'env' | 'demo-file' | 'ephemeral';
  /** The key file, as the user would type it (relative to the working directory when inside it). */
  path: string | null;
  /** Whether this run created the demo key file. */
  created: boolean;
}

export const DEMO_KEYS_FILE = 'demo.keys';

/**
 * The demo encrypts its tokens, so it needs a keyring. One given with --keys-file or
 * STRATA_KEYS is used as is. Otherwise the demo keeps its own, `demo.keys` beside the store
 * (`.strata/demo.keys` for the default store), made on the first run with mode 0600 and
 * reused after, so `npm start` works on a fresh machine and later runs and CLI commands can
 * still read the tokens. It is written before the store is opened: no ciphertext can exist
 * whose key was not saved first. A memory store gets a keyring that dies with it.
 *
 * `discard` removes the file this run made (and the directories made for it), for a demo
 * whose store could not be opened: nothing can have used the key, and a refused demo leaves
 * nothing behind. Once the store opened, the key stays: the open records its check value.
 */
export function demoKeyring(command: Command): { cli: Cli; keyring: DemoKeyring; discard: () => void } {
  const options = command.optsWithGlobals<GlobalOptions>();
  const given = new Cli(options);
  if (given.encryption !== undefined) {
    const fromFile = options.keysFile !== undefined;
    return {
      cli: given,
      keyring: { source: fromFile ? 'keys-file' : 'env', path: fromFile ? options.keysFile! : null, created: false },
      discard: () => {},
    };
  }
  const location = localPath(given.url); // a malformed URL fails here, before any file is made
  if (location === null) {
    const keys = `demo:${randomBytes(32).toString('base64')}`;
    return {
      cli: new Cli(options, { ...process.env, STRATA_KEYS: keys }),
      keyring: { source: 'ephemeral', path: null, created: false },
      discard: () => {},
    };
  }
  const file = join(dirname(location), DEMO_KEYS_FILE);
  const made = missingDirs(dirname(file));
  const created = ensureKeyFile(file);
  const discard = (): void => {
    if (!created) return;
    rmSync(file, { force: true });
    for (const dir of made) {
      try {
        rmdirSync(dir); // only when empty
      } catch {
        return;
      }
    }
  };
  return {
    cli: new Cli({ ...options, keysFile: file }),
    keyring: { source: 'demo-file', path: shown(file), created },
    discard,
  };
}

/** `dir` and its ancestors that do not exist yet, deepest first. */
function missingDirs(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; !existsSync(d) && d !== dirname(d); d = dirname(d)) out.push(d);
  return out;
}

/** Creates the key file unless it exists (exclusively, so two first runs agree on one key); true when created. */
function ensureKeyFile(file: string): boolean {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `demo:${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // An existing file is used only when it is this user's own regular file: a key file planted
  // by someone else (in a shared directory such as /tmp) would give them the tokens.
  const stat = lstatSync(file);
  const uid = process.getuid?.();
  if (!stat.isFile() || (uid !== undefined && stat.uid !== uid)) {
    throw new StrataError('BAD_INPUT', `the demo key file ${shown(file)} is not a regular file of yours`, {
      hint: 'remove it, or pass your own keyring with --keys-file <path> or STRATA_KEYS',
      details: { path: file },
    });
  }
  return false;
}

function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
