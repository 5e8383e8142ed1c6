import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StrataError } from '../errors.js';
import type { MigrationFunction, MigrationSource } from './migrate-types.js';

/** A migration ready to run: its source checked, its checksum computed. */
export interface LoadedMigration {
  name: string;
  kind: 'function' | 'sql';
  up: MigrationFunction | string;
  down: MigrationFunction | string | undefined;
  /**
   * sha256 (hex) of the source: the SQL text; for a module file, the file's text; for a
   * function given in code, its source text.
   */
  checksum: string;
  /**
   * For a module file, the checksum earlier versions recorded (of `up`'s source text), still
   * accepted as "unchanged" so stores migrated by them do not see every module as changed.
   */
  legacyChecksum?: string;
  /** The file it came from, when discovered. */
  file?: string;
}

const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts']);
/** Names are what sort the run and key the record: printable, no path separators. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,199}$/;

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Code-point order (not locale order), so every machine applies the same sequence. */
export const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function bad(message: string, hint: string, details?: Record<string, unknown>): StrataError {
  // No `op`: the entry point that loaded the source (migrate, status, down) tags it.
  return new StrataError('BAD_INPUT', message, { hint, ...(details ? { details } : {}) });
}

export function checkMigrationName(name: unknown, where: string, details?: Record<string, unknown>): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw bad(
      `${where}: the name ${JSON.stringify(name)} is not a migration name`,
      'use letters, digits and _ . @ + - (e.g. 20261201_add_priority), at most 200 characters',
      details,
    );
  }
}

/** Whether a recorded checksum is the one of `m`'s source now. */
export const sameSource = (m: LoadedMigration, recorded: string): boolean =>
  recorded === m.checksum || (m.legacyChecksum !== undefined && recorded === m.legacyChecksum);

/**
 * Checks one `{ name, up, down? }` and computes its checksum: of the file's text when it is a
 * module file's function, else of the SQL text or the function's source.
 */
export function loadOne(input: unknown, where: string, from?: { file: string; text?: string }): LoadedMigration {
  const fileText = from?.text;
  const file = from === undefined ? {} : { file: from.file };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw bad(`${where} is not a migration object`, 'pass { name, up, down? } with up a function or SQL text');
  }
  const known = ['name', 'up', 'down'];
  for (const key of Object.keys(input)) {
    if (!known.includes(key))
      throw bad(`${where} has an unknown property "${key}"`, 'a migration is { name, up, down? }', { option: key });
  }
  const { name, up, down } = input as Record<string, unknown>;
  checkMigrationName(name, where, from === undefined ? undefined : { file: from.file });
  const kindOf = (value: unknown, part: string): 'function' | 'sql' => {
    if (typeof value === 'function') {
      const text = Function.prototype.toString.call(value);
      // Calling a generator function only makes an iterator: its body would never run, and
      // the migration would be recorded as applied.
      const tag = Object.prototype.toString.call(value);
      if (tag === '[object GeneratorFunction]' || tag === '[object AsyncGeneratorFunction]') {
        throw bad(
          `migration "${name}": ${part} is a generator function (function*), whose body does not run when it is called`,
          `write ${part} as async (m) => { ... } or async function ${part}(m) { ... }, without the *`,
          { migration: name, ...file },
        );
      }
      if (/^class\b/.test(text)) {
        throw bad(`migration "${name}": ${part} is a class, not a function`, 'write up as async (m) => { ... }', {
          migration: name,
          ...file,
        });
      }
      if (fileText === undefined && /\{\s*\[native code\]\s*\}\s*$/.test(text)) {
        throw bad(
          `migration "${name}": the source of ${part} cannot be read (a bound or built-in function), so a change to it could not be seen`,
          'pass a plain function (async (m) => { ... }), not a bound one',
          { migration: name },
        );
      }
      return 'function';
    }
    if (typeof value === 'string' && value.trim() !== '') return 'sql';
    throw bad(
      `migration "${name}": ${part} must be a function or non-empty SQL text, got ${value === null ? 'null' : typeof value}`,
      'write up as async (m) => { ... } or as SQL text',
      { migration: name, ...file },
    );
  };
  const kind = kindOf(up, 'up');
  if (down !== undefined) kindOf(down, 'down');
  const source = typeof up === 'string' ? up : Function.prototype.toString.call(up);
  const fromFile = fileText !== undefined && kind === 'function';
  return {
    name,
    kind,
    up: up as MigrationFunction | string,
    down: down as MigrationFunction | string | undefined,
    checksum: sha256(fromFile ? fileText : source),
    ...(fromFile ? { legacyChecksum: sha256(source) } : {}),
  };
}

/** Splits a `.sql` file at its `-- down` line: the text above is `up`, below it `down`. */
export function splitSql(text: string): { up: string; down: string | undefined } {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((line) => /^\s*--\s*down\s*$/i.test(line));
  const upLines = at === -1 ? lines : lines.slice(0, at);
  // An optional `-- up` marker line at the top is a comment like any other.
  const up = upLines.join('\n').trim();
  const down =
    at === -1
      ? undefined
      : lines
          .slice(at + 1)
          .join('\n')
          .trim();
  return { up, down: down === '' ? undefined : down };
}

/** Whether this process can import `.ts` files (Node's type stripping, or a loader such as tsx). */
function canImportTs(): boolean {
  const features = process.features as { typescript?: unknown };
  return Boolean(features.typescript) || process.execArgv.some((a) => /strip-types|tsx|ts-node|--import|--loader/.test(a));
}

/** require's cache, which the ES module loader also goes through for a CommonJS file. */
const requireCache = createRequire(import.meta.url).cache;

/**
 * Imports a migration module. The URL carries the checksum of the file's text, so a file
 * edited since this process imported it is imported afresh (never the cached old code under
 * the new checksum). That is enough for an ES module; a CommonJS one (.cjs, or .js outside a
 * "type": "module" package) is evaluated through require's cache, keyed by path whatever the
 * URL, so its entry is dropped first. Same text, same URL: the loader's own cache still
 * answers that, without evaluating the file again.
 */
async function importModule(file: string, text: string): Promise<Record<string, unknown>> {
  const ts = /\.m?ts$/.test(file);
  if (ts && !canImportTs()) throw tsUnsupported(file);
  // Keyed by the real path, as the loader resolves symlinks (a linked migrations directory, /tmp on macOS).
  if (/\.c?js$/.test(file)) delete requireCache[await realpath(file).catch(() => file)];
  try {
    return (await import(`${pathToFileURL(file).href}?sha256=${sha256(text)}`)) as Record<string, unknown>;
  } catch (error) {
    if (ts && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') throw tsUnsupported(file, error);
    throw loadFailed(file, error);
  }
}

/**
 * A module whose own code threw while it was loaded: when imported, or when its exports were
 * read (a getter, a proxy). docs/migrations.md "Sources": MIGRATION_FAILED naming the file.
 */
function loadFailed(file: string, cause: unknown): StrataError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new StrataError('MIGRATION_FAILED', `the migration module ${file} could not be loaded${why}`, {
    cause,
    hint: 'fix the module (see `cause`), or move it out of the migrations directory',
    details: { file },
  });
}

function tsUnsupported(file: string, cause?: unknown): StrataError {
  return new StrataError('UNSUPPORTED', `this process cannot import the TypeScript migration ${file}`, {
    cause,
    hint: 'run Node.js 22.6 or later with type stripping on, or with a TypeScript loader such as tsx, or compile the migrations to .js',
    details: { file },
  });
}

/**
 * The migrations a module defines: an `up` export (and `down`), or a default export object
 * holding them, make one migration named after the file; otherwise every exported string
 * constant is one SQL migration named after its export (seed 004's style). A module that
 * defines none is BAD_INPUT: a misspelt `up` must not pass as "nothing to do".
 */
function fromModule(file: string, base: string, text: string, exports: Record<string, unknown>): LoadedMigration[] {
  let values: Record<string, unknown>;
  try {
    values = snapshot(exports);
  } catch (error) {
    throw loadFailed(file, error);
  }
  return migrationsOf(file, base, text, values);
}

/**
 * The exports, and a default export object's up / down, each read once: the module's code
 * (a getter) runs here, where a throw can be blamed on the file, and a getter cannot hand
 * the check one function and the run another.
 */
function snapshot(exports: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(exports)) out[key] = exports[key];
  const fallback = out.default;
  if (fallback !== null && typeof fallback === 'object' && ('up' in fallback || 'down' in fallback)) {
    const holder = fallback as Record<string, unknown>;
    out.default = { up: holder.up, down: holder.down };
  }
  return out;
}

function migrationsOf(file: string, base: string, text: string, exports: Record<string, unknown>): LoadedMigration[] {
  const fallback = exports.default;
  const holder =
    exports.up === undefined &&
    exports.down === undefined &&
    fallback !== null &&
    typeof fallback === 'object' &&
    ('up' in fallback || 'down' in fallback)
      ? (fallback as Record<string, unknown>)
      : exports;
  if (holder.up !== undefined) {
    const migration = loadOne({ name: base, up: holder.up, ...(holder.down === undefined ? {} : { down: holder.down }) }, file, {
      file,
      text,
    });
    return [{ ...migration, file }];
  }
  if (holder.down !== undefined) {
    throw bad(`${file} exports a down and no up`, 'export an up function (or SQL text) beside the down', { file });
  }
  const out: LoadedMigration[] = [];
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'string' || name === 'default') continue;
    out.push({ ...loadOne({ name, up: value }, `${file} export ${name}`, { file }), file });
  }
  if (out.length === 0) {
    throw bad(
      `${file} defines no migration: it exports neither an up function nor SQL string constants`,
      'export async function up(m) { ... } (and down), or SQL text constants; keep helper modules in a subdirectory (it is not read)',
      { file, exports: Object.keys(exports) },
    );
  }
  return out;
}

/** `BAD_INPUT` naming an entry of the directory that cannot be read as a migration. */
function unreadable(file: string, why: string, cause?: unknown): StrataError {
  return new StrataError('BAD_INPUT', `${file} ${why}`, {
    cause,
    hint: 'make it a regular, readable file, or move it out of the migrations directory',
    details: { file },
  });
}

/**
 * Strict: a byte that is not UTF-8 would become U+FFFD, so the SQL run would not be the
 * file's, and swapping one such byte for another would not change the checksum. The BOM is
 * kept, as `readFile(file, 'utf8')` kept it, so the checksums recorded before stay the same.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of a directory entry that should be a migration file; `null` for a directory (not read). */
async function readEntry(file: string): Promise<string | null> {
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    throw unreadable(file, 'cannot be read (a link to nothing?)', error);
  }
  if (info.isDirectory()) return null;
  if (!info.isFile()) throw unreadable(file, 'is not a regular file (a FIFO, socket or device)');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw unreadable(file, 'cannot be read', error);
  }
  try {
    return UTF8.decode(bytes);
  } catch (error) {
    throw new StrataError('BAD_INPUT', `${file} is not UTF-8 text`, {
      cause: error,
      hint: 'save it as UTF-8 (for example with iconv), or move it out of the migrations directory',
      details: { file },
    });
  }
}

/** Reads every migration in `dir`: `.sql` files and `.js`/`.mjs`/`.ts`/`.mts` modules. */
export async function discover(dir: string): Promise<LoadedMigration[]> {
  const root = resolve(dir);
  let entries: string[];
  try {
    if (!(await stat(root)).isDirectory())
      throw bad(`${root} is not a directory`, 'pass { dir } naming the migrations directory (CLI: --dir)');
    entries = await readdir(root);
  } catch (error) {
    if (StrataError.is(error)) throw error;
    if ((error as { code?: string }).code === 'ENOENT') {
      throw new StrataError('NOT_FOUND', `the migrations directory ${root} does not exist`, {
        hint: 'create it (strata migrate create <name> makes it with a first migration) or pass the right { dir } (CLI: --dir)',
        details: { dir: root },
      });
    }
    throw error;
  }
  const found: LoadedMigration[] = [];
  for (const entry of entries.sort()) {
    const ext = extname(entry);
    const file = join(root, entry);
    if (/\.d\.[mc]?ts$/i.test(entry) || entry.startsWith('.')) continue;
    const lower = ext.toLowerCase();
    if (lower !== '.sql' && !MODULE_EXTENSIONS.has(lower)) continue;
    if (ext !== lower) {
      throw bad(
        `${file}: the extension ${ext} is not read (extensions are lower case)`,
        `rename it to ${entry.slice(0, -ext.length)}${lower}`,
        {
          file,
        },
      );
    }
    const text = await readEntry(file);
    if (text === null) continue;
    if (ext === '.sql') {
      const base = entry.slice(0, -4);
      if (base.toLowerCase().endsWith('.down')) {
        throw bad(`${file}: a separate .down.sql file is not read`, 'put the down SQL in the same file, below a line `-- down`', {
          file,
        });
      }
      const { up, down } = splitSql(text);
      if (up === '')
        throw bad(`${file} holds no SQL above its -- down line`, 'write the up SQL first, then `-- down`, then the down SQL', {
          file,
        });
      found.push({ ...loadOne({ name: base, up, ...(down === undefined ? {} : { down }) }, file, { file }), file });
    } else {
      found.push(...fromModule(file, entry.slice(0, -ext.length), text, await importModule(file, text)));
    }
  }
  return dedupe(found);
}

/**
 * Same name twice is BAD_INPUT, except the very same SQL constant re-exported by another
 * module (seed 004's `index.ts` re-exports every file), which counts once.
 */
function dedupe(list: LoadedMigration[]): LoadedMigration[] {
  const byKey = new Map<string, LoadedMigration>();
  for (const m of list) {
    const seen = byKey.get(m.name);
    if (seen === undefined) {
      byKey.set(m.name, m);
      continue;
    }
    const same = seen.kind === 'sql' && m.kind === 'sql' && seen.up === m.up && seen.down === m.down;
    if (!same) throw duplicate(m.name, [seen.file, m.file]);
  }
  return checkCase([...byKey.values()]).sort(byName);
}

/**
 * Two names that differ only by case are refused: on a case-insensitive file system (macOS,
 * Windows) their files are one file, so a checkout there would silently lose one.
 */
function checkCase(list: LoadedMigration[]): LoadedMigration[] {
  const folded = new Map<string, LoadedMigration>();
  for (const m of list) {
    const key = m.name.toLowerCase();
    const seen = folded.get(key);
    if (seen !== undefined) {
      throw bad(`the migrations "${seen.name}" and "${m.name}" differ only by case`, 'rename one of them', {
        migration: m.name,
        files: [seen.file, m.file].filter((f) => f !== undefined),
      });
    }
    folded.set(key, m);
  }
  return list;
}

function duplicate(name: string, files: Array<string | undefined>): StrataError {
  return bad(`two migrations are named "${name}"`, 'give every migration its own name', {
    migration: name,
    files: files.filter((f) => f !== undefined),
  });
}

/** The migrations of a `store.migrate` source, checked, in name order. */
export async function loadSource(source: MigrationSource | unknown): Promise<LoadedMigration[]> {
  if (source === null || typeof source !== 'object' || Array.isArray(source)) {
    throw bad('pass { dir } or { migrations: [...] }', 'e.g. store.migrate({ dir: "migrations" })');
  }
  const keys = Object.keys(source);
  if (keys.length !== 1 || (keys[0] !== 'dir' && keys[0] !== 'migrations')) {
    throw bad(
      `the source must be exactly one of { dir } or { migrations }, got { ${keys.join(', ')} }`,
      'e.g. store.migrate({ dir: "migrations" })',
    );
  }
  if ('dir' in source) {
    const { dir } = source as { dir: unknown };
    if (typeof dir !== 'string' || dir === '') throw bad('dir must be a non-empty path', 'e.g. { dir: "migrations" }');
    return discover(dir);
  }
  const { migrations } = source as { migrations: unknown };
  if (!Array.isArray(migrations))
    throw bad(
      'migrations must be an array of { name, up, down? }',
      'e.g. { migrations: [{ name: "001_init", up: async (m) => {} }] }',
    );
  const seen = new Set<string>();
  const out = migrations.map((m, i) => loadOne(m, `migrations[${i}]`));
  for (const m of out) {
    if (seen.has(m.name)) throw duplicate(m.name, []);
    seen.add(m.name);
  }
  return checkCase(out).sort(byName);
}
