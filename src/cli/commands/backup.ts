import type { Command } from 'commander';
import type { PitrPlan } from '../../ops/pitr.js';
import { Cli, withBackupsOf } from '../context.js';
import { formatBytes, formatCount, formatMs, table } from '../output.js';
import { progressTo } from '../progress.js';
import { intOption } from '../args.js';
import { StrataError } from '../../errors.js';
import type { Store } from '../../store.js';
import type { BackupInfo, DamagedBackupInfo, RestoreResult } from '../../ops/backup.js';

interface DirFlags {
  dir?: string;
}

const dirOption = (flags: DirFlags): { dir?: string } => (flags.dir === undefined ? {} : { dir: flags.dir });

/** `strata backup create|list|verify|prune|restore`: online backups of the store (see README "Backups and restore"). */
export function register(program: Command): void {
  const backup = program
    .command('backup')
    .description('online backups: create, list, verify, prune (retention) and restore')
    .addHelpText(
      'after',
      `
Backups go to <store dir>/backups/<store file name>/ unless --to / --dir names another
directory. Each is one directory <id>/ with manifest.json and a gzip part, checksummed.
\`strata backup verify <id>\` rebuilds a backup in scratch space and checks it (exit 5 when
damaged); \`strata restore <id|path>\` replaces the store's data with it in one atomic step.`,
    );

  backup
    .command('create')
    .description('take a consistent backup while the app keeps writing')
    .option(
      '--to <dir>',
      'directory or s3://bucket/prefix URL to keep the backup in (default: <store dir>/backups/<store file name>/)',
    )
    .option('--gzip-level <n>', 'gzip level, 1 (fastest) to 9 (smallest)', intOption('--gzip-level', { min: 1, max: 9 }), 1)
    .action(async (flags: { to?: string; gzipLevel: number }, command: Command) => {
      const cli = Cli.of(command);
      const gzipLevel = flags.gzipLevel;
      const started = Date.now();
      const result = await cli.withStore('read', async (store) => {
        const bar = progressTo(cli);
        cli.note(`backing up ${cli.url} ...`);
        const made = await store.backup({
          ...(flags.to === undefined ? {} : { to: flags.to }),
          gzipLevel,
          // sqlite knows its bytes ahead; file: and memory: stores know their records.
          onProgress: (p) => {
            if (p.totalBytes !== undefined) bar.update('backup', p.bytes, p.totalBytes);
            else if (p.totalRecords !== undefined) bar.update('backup', p.records ?? 0, p.totalRecords);
          },
        });
        bar.stop();
        return made;
      });
      if (cli.json) cli.data(result);
      else {
        cli.out(result.id);
        cli.info(
          `backup ${result.id}: ${formatCount(result.records)} records, ${formatBytes(result.bytes)} in ${formatMs(Date.now() - started)}\n  ${result.path}\n  ${result.checksum}`,
        );
      }
    });

  backup
    .command('list')
    .description('list the backups, newest first')
    .option('--dir <dir>', 'directory or s3:// URL the backups are in')
    .action(async (flags: DirFlags, command: Command) => {
      const cli = Cli.of(command);
      const listed = await withBackupsOf(cli, flags.dir, (store, dir) => store.backups.list(dirOption({ dir })));
      if (cli.json) {
        cli.data(listed);
        return;
      }
      if (listed.length === 0) {
        cli.info('no backups yet (take one with `strata backup create`)');
        return;
      }
      const rows = listed.map((b: BackupInfo | DamagedBackupInfo) =>
        'damaged' in b
          ? [b.id, '-', 'DAMAGED', '-', b.reason]
          : [b.id, b.at.toISOString(), formatCount(b.records), formatBytes(b.bytes), b.driver],
      );
      cli.out(table(['id', 'taken', 'records', 'size', 'driver'], rows));
    });

  backup
    .command('verify')
    .description('rebuild a backup in scratch space and check its integrity and counts (exit 5 when damaged)')
    .argument('<backup>', 'backup id, or the path of a backup directory')
    .option('--dir <dir>', 'directory or s3:// URL the backups are in')
    .action(async (ref: string, flags: DirFlags, command: Command) => {
      const cli = Cli.of(command);
      cli.note(`checking backup ${ref} ...`);
      const bar = checkBar(cli, 'verify');
      const result = await withBackupsOf(cli, flags.dir, (store, dir) =>
        store.backups.verify(ref, { ...dirOption({ dir }), onProgress: bar.update }),
      );
      bar.stop();
      if (cli.json) cli.data(result);
      else
        cli.out(
          `ok: backup ${result.id} (${result.at.toISOString()}): ${formatCount(result.records)} records, ${formatCount(result.checked)} checked, no issues`,
        );
    });

  backup
    .command('prune')
    .description('retention: keep the newest N backups and those younger than an age; delete the others')
    .option('--keep <n>', 'keep the newest N backups', intOption('--keep', { min: 1, example: 7 }))
    .option('--max-age <duration>', "keep every backup younger than this, e.g. '7d', '12h'")
    .option('--dry-run', 'show what would be deleted; delete nothing')
    .option('--dir <dir>', 'directory or s3:// URL the backups are in')
    .action(async (flags: DirFlags & { keep?: number; maxAge?: string; dryRun?: boolean }, command: Command) => {
      const cli = Cli.of(command);
      if (flags.keep === undefined && flags.maxAge === undefined) {
        // Checked here so the hint names the CLI's options, not the API's.
        throw new StrataError('BAD_INPUT', 'backup prune: say what to keep', { hint: 'pass --keep 7 and/or --max-age 30d' });
      }
      const keep = flags.keep;
      const maxAge = flags.maxAge === undefined ? undefined : /^\d+$/.test(flags.maxAge) ? Number(flags.maxAge) : flags.maxAge;
      const result = await cli.withStore('read', (store) =>
        store.backups.prune({
          ...dirOption(flags),
          ...(keep === undefined ? {} : { keep }),
          ...(maxAge === undefined ? {} : { maxAge: maxAge as never }),
          dryRun: flags.dryRun === true,
        }),
      );
      if (cli.json) cli.data(result);
      else {
        const verb = flags.dryRun === true ? 'would delete' : 'deleted';
        for (const id of result.deleted) cli.out(`${verb} ${id}`);
        cli.info(`${verb} ${formatCount(result.deleted.length)}, kept ${formatCount(result.kept.length)}`);
      }
    });

  backup
    .command('restore')
    .description("replace the store's data with a backup, in one atomic step")
    .argument('<backup>', 'backup id, or the path of a backup directory')
    .option('--dir <dir>', 'directory or s3:// URL the backups are in')
    .option('--dry-run', 'check the backup and report; change nothing')
    .option('--to-time <time>', 'point in time (ISO 8601, or epoch ms): the backup plus the change journal replayed up to it')
    .action(restoreAction);
}

/** Shared by `strata backup restore` and `strata restore`. */
export async function restoreAction(
  ref: string,
  flags: DirFlags & { dryRun?: boolean; toTime?: string },
  command: Command,
): Promise<void> {
  const cli = Cli.of(command);
  const started = Date.now();
  const bar = checkBar(cli, 'restore');
  // A dry run changes nothing, so it does not create the store either.
  const mode = flags.dryRun === true ? 'read' : 'write';
  const result: RestoreResult & { pointInTime?: PitrPlan } = await cli.withStore(mode, (store: Store) => {
    cli.note(`${flags.dryRun === true ? 'checking' : 'restoring'} backup ${ref} ...`);
    const toTime = flags.toTime === undefined ? {} : { toTime: /^\d+$/.test(flags.toTime) ? Number(flags.toTime) : flags.toTime };
    return store.restore(ref, { ...dirOption(flags), ...toTime, dryRun: flags.dryRun === true, onProgress: bar.update });
  });
  bar.stop();
  if (cli.json) cli.data(result);
  else {
    const verb = result.dryRun ? 'would restore' : 'restored';
    // What a dry run found is what it was asked for; a restore's confirmation is chatter,
    // which --quiet silences as it does every other write command's.
    const say = (text: string): void => (result.dryRun ? cli.out(text) : cli.info(text));
    say(
      `${verb} backup ${result.id} (${result.at.toISOString()}): ${formatCount(result.records)} records in ${formatMs(Date.now() - started)}`,
    );
    const plan = result.pointInTime;
    if (plan !== undefined) {
      const replayed =
        plan.entries === 0
          ? 'no journal entry'
          : `${formatCount(plan.entries)} journal ${plan.entries === 1 ? 'entry' : 'entries'} (seq ${plan.fromSeq}-${plan.toSeq})`;
      say(`${result.dryRun ? 'would replay' : 'replayed'} ${replayed} up to ${new Date(plan.toTime).toISOString()}`);
    }
  }
}

/** A bar over the uncompressed bytes of a backup being checked (nothing when no person watches). */
function checkBar(cli: Cli, label: string): { update: (p: { bytes: number; totalBytes: number }) => void; stop: () => void } {
  const bar = progressTo(cli);
  return { update: (p) => bar.update(label, p.bytes, p.totalBytes), stop: () => bar.stop() };
}
