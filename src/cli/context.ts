import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_URL, openStore, type Store } from '../store.js';
import type { Collection } from '../collection.js';
import type { CollectionOptions } from '../collection-types.js';
import { optionsOf } from '../collection-specs.js';
import { StrataError } from '../errors.js';
import { driverFromUrl, parseTimeout, storeLocation } from '../drivers/registry.js';
import { JOURNAL_FILE } from '../drivers/file/journal.js';
import type { EncryptionOptions } from '../crypto/keyring.js';
import { checkLogLevel, cliLogger } from './log-level.js';
import { NewStore } from './new-store.js';

/** Options every command accepts (before or after the command name). */
export interface GlobalOptions {
  url?: string;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  keysFile?: string;
  logLevel?: string;
}

/** What a command needs from the command line: the store URL and how to print. */
export class Cli {
  readonly url: string;
  readonly json: boolean;
  readonly quiet: boolean;
  /** The keyring: --keys-file, else $STRATA_KEYS; none when neither is given. */
  readonly encryption: EncryptionOptions | undefined;
  /** --log-level: the store's pino logs on stderr. */
  readonly logLevel: string | undefined;

  constructor(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env) {
    this.url = options.url ?? (env.STRATA_URL || DEFAULT_URL);
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    // A usage error comes before anything about the store (a missing store is NOT_FOUND).
    if (options.logLevel !== undefined) checkLogLevel(options.logLevel);
    this.logLevel = options.logLevel;
    if (options.keysFile !== undefined) this.encryption = { keyFile: options.keysFile };
    else if (env.STRATA_KEYS) this.encryption = { keys: env.STRATA_KEYS };
  }

  /** The options of `command` merged with the global ones. */
  static of(command: Command): Cli {
    return new Cli(command.optsWithGlobals<GlobalOptions>());
  }

  /** Data output (what the command is for): always printed. */
  out(text: string): void {
    process.stdout.write(`${text}\n`);
  }

  /** One JSON document on stdout (the --json contract). */
  data(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Human chatter on stdout: confirmations, summaries. Silent with --json or --quiet. */
  info(text: string): void {
    if (!this.json && !this.quiet) process.stdout.write(`${text}\n`);
  }

  /** Notes for a person watching, on stderr so stdout stays clean. Silent with --quiet. */
  note(text: string): void {
    if (!this.quiet) process.stderr.write(`${text}\n`);
  }

  /**
   * Opens the store, runs `fn`, and always closes it so the process can exit on its own.
   * `read` refuses to create a store that does not exist yet (NOT_FOUND) rather than leave
   * an empty file behind after a typo in --url.
   */
  async withStore<T>(mode: 'read' | 'write', fn: (store: Store) => Promise<T>): Promise<T> {
    if (mode === 'read') {
      const path = localPath(this.url);
      // A file: store is a directory holding journal.log (made when the store is created): an
      // existing directory without one is somebody else's, and a read must not make it a store.
      const missing = path !== null && (!existsSync(path) || (/^file:/i.test(this.url) && !existsSync(join(path, JOURNAL_FILE))));
      if (missing) {
        // A malformed --url is a usage error whatever the command, a bad parameter value too.
        await checkUrlParams(this.url);
        throw new StrataError('NOT_FOUND', `no store at ${path}`, {
          hint: 'check --url / STRATA_URL, or create it with `strata set` or `strata demo`',
          details: { location: path },
        });
      }
    }
    // A write may create the store; one that is refused takes it away again (see NewStore).
    const created = mode === 'write' ? NewStore.before(this.url) : null;
    const store = await openStore({
      url: this.url,
      sweepInterval: false,
      ...(this.encryption === undefined ? {} : { encryption: this.encryption }),
      ...(this.logLevel === undefined ? {} : { logger: cliLogger(this.logLevel) }),
    });
    let undo = false;
    try {
      return await fn(store);
    } catch (error) {
      undo = created !== null && (await NewStore.holdsNothing(store));
      throw error;
    } finally {
      await store.close();
      if (undo) created!.undo();
    }
  }
}

/**
 * `fn` over the store's backups, also when the store itself cannot be opened (none at the
 * path, or damaged: the case a backup is for). Listing and verifying read only the backup
 * directory, so they then run on a scratch `memory:` store with that directory: `dir`, else
 * the one the store's backups go to by default (`<dir>/backups/<file name>/`).
 */
export async function withBackupsOf<T>(
  cli: Cli,
  dir: string | undefined,
  fn: (store: Store, dir: string | undefined) => Promise<T>,
): Promise<T> {
  try {
    return await cli.withStore('read', (store) => fn(store, dir));
  } catch (error) {
    const path = localPath(cli.url);
    const unopenable =
      (StrataError.is(error, 'NOT_FOUND') && error.details?.location === path) ||
      (StrataError.is(error, 'CORRUPT') && (error.op === 'openStore' || error.op === 'open'));
    if (!unopenable || path === null) throw error;
    const backups = dir ?? join(dirname(path), 'backups', basename(path));
    if (dir === undefined && !existsSync(backups)) throw error;
    const scratch = await openStore({
      url: 'memory:',
      sweepInterval: false,
      ...(cli.encryption === undefined ? {} : { encryption: cli.encryption }),
    });
    try {
      return await fn(scratch, backups);
    } finally {
      await scratch.close();
    }
  }
}

/**
 * Checks the values of a store URL's parameters (`?mmap=`, `?durability=`, `?busyTimeout=`,
 * `?recover=`, `?lockTimeout=`) as opening the store checks them, without opening it: BAD_INPUT
 * for a bad one. Their names, and the path, are checked by `localPath`. For a read of a store
 * that does not exist, which never opens it: the value is what is wrong, not the path.
 * The driver registry's own checks run: a `sqlite:` URL's parameters open an in-memory SQLite
 * database, `?lockTimeout=` is read as the file driver reads it, and `?durability=` opens a
 * `memory:` store.
 */
export async function checkUrlParams(url: string): Promise<void> {
  localPath(url);
  const q = url.indexOf('?');
  if (q === -1) return;
  const params = new URLSearchParams(url.slice(q + 1));
  let probe: string;
  if (/^sqlite:/i.test(url)) probe = `sqlite::memory:?${params.toString()}`;
  else {
    const lockTimeout = params.get('lockTimeout');
    if (lockTimeout !== null) parseTimeout(lockTimeout, 'lockTimeout');
    params.delete('lockTimeout');
    probe = `memory:?${params.toString()}`;
  }
  const driver = await driverFromUrl(probe, 'full');
  await driver.close();
}

/** The file or directory a `sqlite:` / `file:` URL names (as the driver registry reads it); null otherwise. */
export function localPath(url: string): string | null {
  return storeLocation(url);
}

type DocHandle = Collection<Record<string, unknown>, Record<string, unknown>, string>;

/**
 * A collection handle as the store remembers it (key field, indexes, timestamps, ttl), so
 * commands never guess a key field. `write` with no remembered declaration: `keyField`
 * (--key-field) declares one, else a new empty collection gets the default `id`, and one
 * that already holds documents is refused rather than given an invented `id` field.
 * Returns the handle, its key field, the options it was opened with and whether the store
 * remembers them (when not, the handle's first use declares the collection).
 */
export async function openCollection(
  store: Store,
  name: string,
  mode: 'read' | 'write',
  keyField?: string,
): Promise<{ docs: DocHandle; key: string; options: CollectionOptions<undefined, string>; remembered: boolean }> {
  const spec = await store.describe(name);
  if (spec !== null) {
    if (keyField !== undefined && keyField !== spec.key) {
      throw new StrataError('BAD_INPUT', `collection "${name}" is keyed by "${spec.key}", not "${keyField}"`, {
        hint: `leave out --key-field (the store remembers "${spec.key}")`,
        details: { collection: name, key: spec.key },
      });
    }
    const options = optionsOf(spec);
    return { docs: store.collection(name, options), key: spec.key, options, remembered: true };
  }
  if (keyField !== undefined) {
    const options = { key: keyField };
    return { docs: store.collection(name, options), key: keyField, options, remembered: false };
  }
  if (mode === 'read') return { docs: store.collection(name), key: 'id', options: {}, remembered: false };
  if ((await store.names()).collections.includes(name)) {
    throw new StrataError('BAD_INPUT', `collection "${name}" has documents but the store does not know its key field`, {
      hint: 'pass --key-field <field> once (the store remembers it from then on)',
      details: { collection: name },
    });
  }
  return { docs: store.collection(name, { key: 'id' }), key: 'id', options: { key: 'id' }, remembered: false };
}

/**
 * A kv namespace or collection that must already exist (read commands never create one): a
 * kv namespace holding keys, a collection holding documents or declared (remembered) in the store.
 * `hasCollectionFlag`: whether the command takes `-c`, so the hint can say "add -c" /
 * "drop -c" only where that exists (`strata query` reads collections only).
 */
export async function requireSpace(
  store: Store,
  kind: 'kv' | 'collection',
  name: string,
  { hasCollectionFlag = true }: { hasCollectionFlag?: boolean } = {},
): Promise<void> {
  const names = await store.names();
  const mine = kind === 'kv' ? names.kv : names.collections;
  if (mine.includes(name)) return;
  // A declared collection whose documents were all deleted (del, prune) is still there: the
  // store remembers it, and `set -c` keeps its key field.
  if (kind === 'collection' && (await store.describe(name)) !== null) return;
  const other = kind === 'kv' ? names.collections : names.kv;
  const label = kind === 'kv' ? 'kv namespace' : 'collection';
  let hint: string;
  if (other.includes(name)) {
    if (kind === 'kv') hint = `"${name}" is a collection: add -c`;
    else if (hasCollectionFlag) hint = `"${name}" is a kv namespace: drop -c`;
    else hint = `"${name}" is a kv namespace, not a collection: see its keys with \`strata list ${name}\``;
  } else
    hint =
      mine.length > 0 ? `${label}s in this store: ${mine.join(', ')}` : `this store has no ${label}s yet; see \`strata list\``;
  throw new StrataError('NOT_FOUND', `no ${label} "${name}"`, { hint, details: { kind, name } });
}
