import type { Command } from 'commander';
import { restoreAction } from './backup.js';

/** `strata restore <id|path>`: the same as `strata backup restore`. */
export function register(program: Command): void {
  program
    .command('restore')
    .description("replace the store's data with a backup, in one atomic step (as `strata backup restore`)")
    .argument('<backup>', 'backup id, or the path of a backup directory')
    .option('--dir <dir>', 'directory or s3:// URL the backups are in')
    .option('--dry-run', 'check the backup and report; change nothing')
    .option('--to-time <time>', 'point in time (ISO 8601, or epoch ms): the backup plus the change journal replayed up to it')
    .action(restoreAction);
}
