import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
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
  /** sha256 (hex) of the source of `up`: the SQL text, or the function's source text. */
  checksum: string;
  /** The file it came from, when discovered. */
  file?: string;
}

const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts']);
/** Names are what sort the run and key the record: printable, no path separators. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,199}$/;

export const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Code-point order (not locale order), so every machine applies the same sequence. */
export const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function bad(message: string, hint: string, details?: Record<string, unknown>): StrataError {
  // No `op`: the entry point that loaded the source (migrate, status, down) tags it.
  return new StrataError('BAD_INPUT', message, { hint, ...(details ? { details } : {}) });
}

export function checkMigrationName(name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw bad(
      `${where}: the name ${JSON.stringify(name)} is not a migration name`,
      'use letters, digits and _ . @ + - (e.g. 20261201_add_priority), at most 200 characters',
    );
  }
}

/** Checks one `{ name, up, down? }` given in code and computes its checksum. */
export function loadOne(input: unknown, where: string): LoadedMigration {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw bad(`${where} is not a migration object`, 'pass { name, up, down? } with up a function or SQL text');
  }
  const known = ['name', 'up', 'down'];
  for (const key of Object.keys(input)) {
    if (!known.includes(key))
      throw bad(`${where} has an unknown property "${key}"`, 'a migration is { name, up, down? }', { option: key });
  }
  const { name, up, down } = input as Record<string, unknown>;
  checkMigrationName(name, where);
  const kindOf = (value: unknown, part: string): 'function' | 'sql' => {
    if (typeof value === 'function') return 'function';
    if (typeof value === 'string' && value.trim() !== '') return 'sql';
    throw bad(
      `migration "${name}": ${part} must be a function or non-empty SQL text, got ${value === null ? 'null' : typeof value}`,
      'write up as async (m) => { ... } or as SQL text',
      { migration: name },
    );
  };
  const kind = kindOf(up, 'up');
  if (down !== undefined) kindOf(down, 'down');
  const source = typeof up === 'string' ? up : (up as MigrationFunction).toString();
  return {
    name,
    kind,
    up: up as MigrationFunction | string,
    down: down as MigrationFunction | string | undefined,
    checksum: sha256(source),
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

async function importModule(file: string): Promise<Record<string, unknown>> {
  const ts = /\.m?ts$/.test(file);
  if (ts && !canImportTs()) throw tsUnsupported(file);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    if (ts && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') throw tsUnsupported(file, error);
    throw new StrataError('MIGRATION_FAILED', `the migration module ${file} could not be loaded`, {
      cause: error,
      hint: 'fix the module (see `cause`), or move it out of the migrations directory',
      details: { file },
    });
  }
}

function tsUnsupported(file: string, cause?: unknown): StrataError {
  return new StrataError('UNSUPPORTED', `this process cannot import the TypeScript migration ${file}`, {
    cause,
    hint: 'run Node.js 22.6 or later with type stripping on, or with a TypeScript loader such as tsx, or compile the migrations to .js',
    details: { file },
  });
}

/**
 * The migrations a module defines: `up`/`down` function exports make one migration named
 * after the file; otherwise every exported string constant is one SQL migration named after
 * its export (seed 004's style).
 */
function fromModule(file: string, base: string, exports: Record<string, unknown>): LoadedMigration[] {
  if (typeof exports.up === 'function' || exports.up !== undefined) {
    const migration = loadOne(
      { name: base, up: exports.up, ...(exports.down === undefined ? {} : { down: exports.down }) },
      file,
    );
    return [{ ...migration, file }];
  }
  const out: LoadedMigration[] = [];
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'string' || name === 'default') continue;
    out.push({ ...loadOne({ name, up: value }, `${file} export ${name}`), file });
  }
  return out;
}

/** Reads every migration in `dir`: `.sql` files and `.js`/`.mjs`/`.ts`/`.mts` modules. */
export async function discover(dir: string): Promise<LoadedMigration[]> {
  const root = resolve(dir);
  let entries: string[];
  try {
    if (!(await stat(root)).isDirectory())
      throw bad(`${root} is not a directory`, 'pass { dir } naming the migrations directory');
    entries = await readdir(root);
  } catch (error) {
    if (StrataError.is(error)) throw error;
    if ((error as { code?: string }).code === 'ENOENT') {
      throw new StrataError('NOT_FOUND', `the migrations directory ${root} does not exist`, {
        hint: 'create it (strata migrate create <name> makes it with a first migration) or pass the right { dir }',
        details: { dir: root },
      });
    }
    throw error;
  }
  const found: LoadedMigration[] = [];
  for (const entry of entries.sort()) {
    const ext = extname(entry);
    const file = join(root, entry);
    if (entry.endsWith('.d.ts') || entry.startsWith('.')) continue;
    if (ext === '.sql') {
      const base = entry.slice(0, -4);
      if (base.endsWith('.down')) {
        throw bad(`${file}: a separate .down.sql file is not read`, 'put the down SQL in the same file, below a line `-- down`', {
          file,
        });
      }
      const { up, down } = splitSql(await readFile(file, 'utf8'));
      if (up === '')
        throw bad(`${file} holds no SQL above its -- down line`, 'write the up SQL first, then `-- down`, then the down SQL', {
          file,
        });
      found.push({ ...loadOne({ name: base, up, ...(down === undefined ? {} : { down }) }, file), file });
    } else if (MODULE_EXTENSIONS.has(ext)) {
      found.push(...fromModule(file, entry.slice(0, -ext.length), await importModule(file)));
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
  return [...byKey.values()].sort(byName);
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
  return out.sort(byName);
}
