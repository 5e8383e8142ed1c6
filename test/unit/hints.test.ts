import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { buildProgram } from '../../src/cli/program.js';
import { DRIVERS } from '../../src/drivers/registry.js';
import { S3_URL_PARAMS } from '../../src/ops/backup-s3.js';
import { collectHints, declaredNames, HOLE, type HintText } from './hint-texts.js';

// Every `hint` in src/ must point at something that exists: a user who follows it must not
// meet "unknown command", "unknown option" or a method that is not there. The hints are read
// from the source (every literal and template a `hint` can take), the commands and options
// from the real commander program, the URL parameters from the driver registry, openStore's
// options by asking openStore, and the API names from the declarations in src/.

const SRC = resolve(import.meta.dirname, '../../src');

/**
 * Driver-factory options a hint may name although a URL cannot set them, because only a
 * caller who passed that option to the factory ever sees the hint.
 */
const FACTORY_ONLY: Record<string, string> = {
  readonly: 'raised only for sqliteDriver({ readonly: true })',
};

interface CliSurface {
  commands: Map<string, Command>;
  longFlags: Set<string>;
  shortFlags: Set<string>;
  optionsOf(command: Command): Set<string>;
}

function cliSurface(): CliSurface {
  const program = buildProgram();
  const flagsOf = (command: Command): string[] =>
    command.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => f !== undefined);
  const global = new Set([...flagsOf(program), '--help', '-h']);
  const commands = new Map<string, Command>();
  for (const command of program.commands) for (const name of [command.name(), ...command.aliases()]) commands.set(name, command);
  // Subcommands too (`strata backup prune --keep`).
  const deep = (command: Command): string[] => [...flagsOf(command), ...command.commands.flatMap(deep)];
  const all = [...global, ...program.commands.flatMap(deep)];
  return {
    commands,
    longFlags: new Set(all.filter((f) => f.startsWith('--'))),
    shortFlags: new Set(all.filter((f) => !f.startsWith('--'))),
    optionsOf: (command) => new Set([...global, ...flagsOf(command)]),
  };
}

async function isOpenStoreOption(name: string): Promise<boolean> {
  try {
    const store = await api.openStore({ url: 'memory:', [name]: undefined } as api.OpenStoreOptions);
    await store.close();
    return true;
  } catch {
    return false;
  }
}

const urlParams = new Set(['durability', ...Object.values(DRIVERS).flatMap((d) => d.params), ...S3_URL_PARAMS]);
const declared = declaredNames(
  [
    'store.ts',
    'kv.ts',
    'collection.ts',
    'errors.ts',
    'crypto/keyring.ts',
    'crypto/spec.ts',
    'crypto/rotate.ts',
    'ops/schedule.ts',
    'ops/jobs.ts',
    'observe/observer.ts',
    'kits/sync/stream.ts',
    'ops/backup.ts',
    'ops/backup-s3.ts',
    'ops/migrate-types.ts',
  ].map((f) => join(SRC, f)),
);
const exportsOfIndex = new Set(Object.keys(api));
const storeMethods = declared.methods.get('Store')!;
/** Standard JavaScript methods a hint may tell the user to call on their own values. */
const JS_METHODS = ['toJSON', 'valueOf', 'toString', 'toWellFormed', 'isWellFormed'];
const apiMethods = new Set([
  ...JS_METHODS,
  ...storeMethods,
  ...declared.methods.get('KvNamespace')!,
  ...declared.methods.get('Collection')!,
  ...declared.methods.get('ScheduledJob')!,
  ...(declared.methods.get('SyncStream') ?? []),
  ...exportsOfIndex,
]);

/** What is wrong with one hint text: an empty list when everything it names exists. */
async function problemsOf(hint: HintText, cli: CliSurface): Promise<string[]> {
  const text = hint.text;
  const out: string[] = [];
  const vocabulary = (name: string): boolean =>
    declared.members.has(name) || exportsOfIndex.has(name) || urlParams.has(name) || name in FACTORY_ONLY;

  for (const [, word] of text.matchAll(/\bstrata ([a-z][\w-]*)/g)) {
    if (!cli.commands.has(word!)) out.push(`\`strata ${word}\` is not a command`);
  }
  // Flags inside a backticked `strata <command> ...` must be options of that command.
  for (const [, line] of text.matchAll(/`strata ([^`]*)`/g)) {
    const command = cli.commands.get(line!.split(' ')[0]!);
    if (command === undefined) continue;
    const options = cli.optionsOf(command);
    for (const [flag] of line!.matchAll(/(?<![\w-])--?[a-zA-Z][\w-]*/g)) {
      if (!options.has(flag)) out.push(`\`strata ${command.name()}\` has no ${flag}`);
    }
  }
  for (const [flag] of text.matchAll(/(?<![\w-])--[a-z][\w-]*/g)) {
    if (!cli.longFlags.has(flag)) out.push(`no command has ${flag}`);
  }
  for (const [flag] of text.matchAll(/(?<![\w-])-[a-zA-Z](?![\w-])/g)) {
    if (!cli.shortFlags.has(flag)) out.push(`no command has ${flag}`);
  }
  for (const [, param] of text.matchAll(/\?([A-Za-z]\w*)=/g)) {
    if (!urlParams.has(param!)) out.push(`?${param}= is not a store URL parameter`);
  }
  // `{ name` and `name:` in a hint about openStore: options openStore takes.
  if (text.includes('openStore')) {
    for (const [, name] of text.matchAll(/(?:\{\s*|\b)([A-Za-z_]\w*)\s*:|\{\s*([A-Za-z_]\w*)/g)) {
      if (name !== undefined && !(await isOpenStoreOption(name))) out.push(`openStore has no option "${name}"`);
    }
  }
  for (const [, receiver, method] of text.matchAll(/\b(?:(\w+)\.)?(\w+)\(\)/g)) {
    const known = receiver === 'store' ? storeMethods.has(method!) : apiMethods.has(method!);
    if (!known) out.push(`${receiver === undefined ? '' : `${receiver}.`}${method}() does not exist`);
  }
  for (const [, name] of text.matchAll(/`([A-Za-z_$][\w$]*)`/g)) {
    if (!vocabulary(name!)) out.push(`\`${name}\` is not a name of the public API`);
  }
  for (const [word] of text.replaceAll(HOLE, ' ').matchAll(/\b[a-z]+[A-Z][A-Za-z0-9]*\b/g)) {
    if (!vocabulary(word) && !apiMethods.has(word)) out.push(`"${word}" is not a name of the public API or a URL parameter`);
  }
  return out.map((p) => `${hint.where}: ${p} in hint ${JSON.stringify(text)}`);
}

/** Every problem of every hint in `srcDir`. */
async function hintProblems(srcDir: string = SRC): Promise<string[]> {
  const cli = cliSurface();
  const out: string[] = [];
  for (const hint of collectHints(srcDir)) out.push(...(await problemsOf(hint, cli)));
  return out;
}

describe('hints', () => {
  it('are found in the source: literals, templates, constants and helper arguments', () => {
    const hints = collectHints(SRC);
    const texts = hints.map((h) => h.text);
    expect(hints.length).toBeGreaterThan(50);
    // One of each shape, so a change in how hints are written cannot silently empty the walk.
    expect(texts).toContain('pass --force to treat a missing key as deleted'); // `hint:` literal
    expect(texts.some((t) => t.startsWith('see the keys with `strata list -c '))).toBe(true); // template + ?:
    expect(texts.some((t) => t.startsWith('nothing was changed. To go back to a backup'))).toBe(true); // module constant
    expect(texts.some((t) => t.startsWith('values are JSON: quote strings'))).toBe(true); // helper argument
    expect(texts.some((t) => t.endsWith('is a kv namespace: drop -c'))).toBe(true); // `hint =` assignment
  });

  it('the checker catches the kinds of dead reference that were shipped', async () => {
    const cli = cliSurface();
    const check = (text: string) => problemsOf({ where: 'x', text }, cli);
    expect(await check('restore it from a backup (`strata recover`)')).not.toEqual([]);
    expect(await check('retry, or raise busyTimeoutMs')).not.toEqual([]);
    expect(await check('pass `cache: { memory }` to openStore')).not.toHaveLength(0);
    expect(await check('store large objects with store.blobs()')).not.toEqual([]);
    expect(await check('see `strata query -c x`')).not.toEqual([]);
    expect(await check('use ?busyTimout=30s')).not.toEqual([]);
    expect(await check('pass --frobnicate')).not.toEqual([]);
    expect(await check('see `strata list -c …` or pass `sweepInterval: false` to openStore, ?busyTimeout=')).toEqual([]);
  });

  it('every hint in src/ names only commands, options, URL parameters and API names that exist', async () => {
    expect(await hintProblems()).toEqual([]);
  });
});
