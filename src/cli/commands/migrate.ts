import { mkdir, open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkUrlParams, Cli } from '../context.js';
import { table } from '../output.js';
import { progress, type Progress } from '../progress.js';
import { StrataError } from '../../errors.js';
import { checkMigrationName } from '../../ops/migrate-source.js';
import { MAX_WAIT_MS } from '../../ops/migrate-runner.js';
import type { MigrateProgress } from '../../ops/migrate-types.js';
import { parseDuration, type Duration } from '../../codec/duration.js';

const DEFAULT_DIR = 'migrations';

interface DirFlags {
  dir: string;
}

/**
 * Progress for a person: a bar over the run's steps on a terminal, else one plain line per
 * migration on stderr (nothing with --json or --quiet... stdout keeps only the result).
 */
function reporter(cli: Cli, verb: string): { onProgress: (p: MigrateProgress) => void; stop(): void } {
  let bar: Progress | undefined;
  const tty = process.stderr.isTTY && !cli.json && !cli.quiet;
  return {
    onProgress(p) {
      if (tty) {
        bar ??= progress(cli, verb, p.steps);
        if (p.phase === 'done') bar.advance(1);
        return;
      }
      if (cli.json) return;
      if (p.phase === 'start') cli.note(`${verb} [${p.step}/${p.steps}] ${p.migration}`);
      else if (p.phase === 'batch') cli.note(`  ${p.migration}: ${p.done}/${p.total} documents`);
      else cli.note(`  ${p.migration}: done`);
    },
    stop: () => bar?.stop(),
  };
}

function source(flags: DirFlags): { dir: string } {
  return { dir: resolve(flags.dir) };
}

/**
 * `--wait 10m`, `--wait 30s`, `--wait 500`: how long `up` / `down` wait for another migrator
 * (the API's `wait`). Bare digits are milliseconds, as for the API's number and for the
 * CLI's other durations (`--ttl`, `--older-than`).
 */
function waitOption(text: string): Duration {
  const value = /^\d+$/.test(text) ? Number(text) : text;
  try {
    parseDuration(value, '--wait', MAX_WAIT_MS);
  } catch (error) {
    if (!StrataError.is(error, 'BAD_INPUT')) throw error;
    const tooLong = (error.details as { max?: number } | undefined)?.max !== undefined;
    throw new StrataError(
      'BAD_INPUT',
      tooLong ? `--wait ${text} is longer than the maximum, 7d` : `--wait ${JSON.stringify(text)} is not a positive duration`,
      { hint: 'e.g. --wait 30s, --wait 10m, --wait 2h, or milliseconds: --wait 500 (at most 7d)', details: { option: '--wait' } },
    );
  }
  return value as Duration;
}

interface RunFlags extends DirFlags {
  wait?: Duration;
  abandonRun?: string;
}

/** The options `up` and `down` share, as the API takes them. */
const runOptions = (flags: RunFlags): { wait?: Duration; abandonRun?: string } => ({
  ...(flags.wait === undefined ? {} : { wait: flags.wait }),
  ...(flags.abandonRun === undefined ? {} : { abandonRun: flags.abandonRun }),
});

const WAIT_HELP = 'how long to wait for another process running migrations, e.g. 30s (default 10m; bare digits: ms)';
const ABANDON_HELP =
  'drop the record of the dead run <id> without restoring its restore point (after checking the store is as you want it; see docs/migrations.md)';

/**
 * What `create` accepts as a name: a description such as add_priority. Stricter than a
 * migration name, so the file it writes is always read back as one migration of that name
 * (a name ending in `.down` would make `NAME.down.sql`, which `up` refuses).
 */
const CREATE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.@+-]*[A-Za-z0-9_])?$/;

function checkCreateName(name: string): void {
  if (!CREATE_NAME.test(name) || name.includes('..') || /\.down$/i.test(name)) {
    throw new StrataError('BAD_INPUT', `migrate create: ${JSON.stringify(name)} is not a name for a migration`, {
      hint: 'use letters, digits and _ . @ + - (starting with a letter or digit, not ending in .down), e.g. add_priority',
      details: { name },
    });
  }
}

/** A UTC timestamp that sorts: 20261201153000. */
const stamp = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);

const MODULE_TEMPLATE = `// Migration: applied once, in name order, as one atomic step with its _migrations record.
// m.kv(name) and m.collection(name) write through the store; m.sql\`...\` runs SQL (sqlite only);
// m.batches(collection, { size }, fn) walks a big collection in resumable batches.

/** @param {import('stratadb').MigrationContext} m */
export async function up(m) {
  // await m.collection('tasks').updateWhere({}, { priority: 'normal' });
}

/** @param {import('stratadb').MigrationContext} m */
export async function down(m) {
  // await m.collection('tasks').updateWhere({}, { priority: undefined });
}
`;

const SQL_TEMPLATE = `-- up
-- ALTER TABLE users ADD COLUMN avatar_url TEXT;

-- down
-- ALTER TABLE users DROP COLUMN avatar_url;
`;

/** `strata migrate status|up|down|create`. */
export function register(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('apply, list and revert migrations (a directory of .sql and .mjs/.js files)')
    .addHelpText(
      'after',
      `
Migrations are applied in name order, each once, one migrator at a time across processes.
Before a run a backup is taken; a migration that fails rolls the whole run back (exit 1,
MIGRATION_FAILED). See docs/migrations.md.`,
    );

  migrate
    .command('status')
    .description('list applied and pending migrations')
    .option('--dir <dir>', 'the migrations directory', DEFAULT_DIR)
    .action(async (flags: DirFlags, command: Command) => {
      const cli = Cli.of(command);
      const rows = await cli.withStore('read', (store) => store.migrations.status(source(flags)));
      if (cli.json) return cli.data(rows);
      if (rows.length === 0) return cli.info('no migrations');
      cli.out(
        table(
          ['name', 'state', 'applied at', 'checksum'],
          rows.map((r) => [r.name, r.state, r.appliedAt ?? '-', r.checksum.slice(0, 12)]),
        ),
      );
    });

  migrate
    .command('up')
    .description('apply every pending migration')
    .option('--dir <dir>', 'the migrations directory', DEFAULT_DIR)
    .option('--accept-checksums', 'record the new checksum of applied migrations whose source changed (they are not run again)')
    .option('--wait <duration>', WAIT_HELP, waitOption)
    .option('--abandon-run <id>', ABANDON_HELP)
    .action(async (flags: RunFlags & { acceptChecksums?: boolean }, command: Command) => {
      const cli = Cli.of(command);
      const report = reporter(cli, 'migrating');
      const result = await cli
        .withStore('write', (store) =>
          store.migrate(source(flags), {
            acceptChecksums: flags.acceptChecksums === true,
            onProgress: report.onProgress,
            ...runOptions(flags),
          }),
        )
        .finally(() => report.stop());
      if (cli.json) return cli.data(result);
      if (result.recovered) cli.info(`an interrupted run (${result.recovered.run}) was first ${result.recovered.action}`);
      cli.info(
        result.applied.length === 0 ? 'nothing to do: every migration is applied' : `applied ${result.applied.join(', ')}`,
      );
      if (result.backup !== undefined) cli.info(`backup taken before the run: ${result.backup}`);
    });

  migrate
    .command('down')
    .description('revert applied migrations, newest first, back to (not including) --to')
    .option('--dir <dir>', 'the migrations directory', DEFAULT_DIR)
    .option('--to <name>', 'the migration to stay at (those after it are reverted)')
    .option('--all', 'revert every applied migration')
    .option('--wait <duration>', WAIT_HELP, waitOption)
    .option('--abandon-run <id>', ABANDON_HELP)
    .action(async (flags: RunFlags & { to?: string; all?: boolean }, command: Command) => {
      const cli = Cli.of(command);
      if ((flags.to === undefined) === (flags.all !== true)) {
        throw new StrataError('BAD_INPUT', 'migrate down needs exactly one of --to <name> or --all', {
          hint: 'name the migration to stay at (those after it are reverted), or ask for all of them',
        });
      }
      const report = reporter(cli, 'reverting');
      const result = await cli
        .withStore('read', (store) =>
          store.migrations.down({
            to: flags.to ?? null,
            source: source(flags),
            onProgress: report.onProgress,
            ...runOptions(flags),
          }),
        )
        .finally(() => report.stop());
      if (cli.json) return cli.data(result);
      cli.info(result.reverted.length === 0 ? 'nothing to revert' : `reverted ${result.reverted.join(', ')}`);
    });

  migrate
    .command('create')
    .argument('<name>', 'what the migration does, e.g. add_priority')
    .description('write a new, timestamped migration template into the directory')
    .option('--dir <dir>', 'the migrations directory', DEFAULT_DIR)
    .option('--sql', 'an .sql file (up, then down below a `-- down` line) instead of an .mjs module')
    .action(async (name: string, flags: DirFlags & { sql?: boolean }, command: Command) => {
      const cli = Cli.of(command);
      // It opens no store, but a malformed --url is a usage error whatever the command.
      await checkUrlParams(cli.url);
      checkCreateName(name);
      const full = `${stamp(new Date())}_${name}`;
      checkMigrationName(full, 'migrate create');
      const dir = resolve(flags.dir);
      await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST' && error.code !== 'ENOTDIR') throw error;
        throw new StrataError('BAD_INPUT', `migrate create: ${dir} is not a directory`, {
          hint: 'pass --dir naming the migrations directory (it is created if missing)',
          details: { dir },
        });
      });
      const file = join(dir, `${full}.${flags.sql === true ? 'sql' : 'mjs'}`);
      // 'wx': never overwrite a migration that exists.
      const handle = await open(file, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') throw new StrataError('CONFLICT', `${file} already exists`, { hint: 'pick another name' });
        throw error;
      });
      try {
        await handle.writeFile(flags.sql === true ? SQL_TEMPLATE : MODULE_TEMPLATE);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (cli.json) return cli.data({ name: full, file });
      cli.out(file);
    });
}
