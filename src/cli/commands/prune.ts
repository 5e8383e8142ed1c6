import type { Command } from 'commander';
import type { DedupeKeep } from '../../collection-types.js';
import { parseDuration, type Duration } from '../../codec/duration.js';
import { StrataError } from '../../errors.js';
import { jobs } from '../../ops/jobs.js';
import { Cli, requireSpace } from '../context.js';
import { formatCount } from '../output.js';

interface PruneOptions {
  collection?: string;
  olderThan?: Duration;
  field?: string;
  dedupe?: string;
  keep?: DedupeKeep;
}

interface PruneReport {
  expired: number;
  retained?: { collection: string; deleted: number };
  deduped?: { collection: string; removed: number };
}

const usage = (message: string, hint: string): StrataError => new StrataError('BAD_INPUT', message, { hint });

/** `--older-than 30d` (a duration, or milliseconds). */
function olderThanOption(text: string): Duration {
  const value = /^\d+$/.test(text) ? Number(text) : text;
  parseDuration(value, '--older-than');
  return value as Duration;
}

/** `--keep newest`, `--keep oldest`, `--keep newest:createdAt`, `--keep oldest:createdAt`. */
function keepOption(text: string): DedupeKeep {
  const match = /^(newest|oldest)(?::(.+))?$/.exec(text);
  if (match === null) {
    throw usage(
      `--keep must be newest, oldest, newest:<field> or oldest:<field>, got ${JSON.stringify(text)}`,
      'e.g. --keep newest:createdAt',
    );
  }
  const [, which, field] = match as unknown as [string, 'newest' | 'oldest', string | undefined];
  if (field === undefined) return which;
  return which === 'newest' ? { newest: field } : { oldest: field };
}

/** The documents' part of a prune, checked before the store opens: each option needs the ones it works with. */
function checkCombination(options: PruneOptions): void {
  const { collection, olderThan, field, dedupe, keep } = options;
  if ((olderThan === undefined) !== (field === undefined)) {
    throw usage('--older-than and --field go together', 'e.g. strata prune -c events --older-than 30d --field createdAt');
  }
  if (keep !== undefined && dedupe === undefined) {
    throw usage(
      '--keep says which duplicate --dedupe keeps',
      'e.g. strata prune -c deployments --dedupe id --keep newest:createdAt',
    );
  }
  if (collection === undefined && (olderThan !== undefined || dedupe !== undefined)) {
    throw usage('--older-than and --dedupe work on a collection', 'name it with -c <collection>');
  }
  if (collection !== undefined && olderThan === undefined && dedupe === undefined) {
    throw usage(
      '-c names the collection of --older-than or --dedupe',
      'add --older-than <age> --field <date field>, or --dedupe <fields>',
    );
  }
}

/** `strata prune`: removes expired records now, and optionally old or duplicate documents of a collection. */
export function register(program: Command): void {
  program
    .command('prune')
    .description('remove expired records now; with -c, also old (--older-than) or duplicate (--dedupe) documents')
    .option('-c, --collection <name>', 'the collection of --older-than and --dedupe')
    .option('--older-than <age>', 'delete documents whose --field is older than this (e.g. 30d)', olderThanOption)
    .option('--field <path>', 'the date field of --older-than: an ISO date (as a Date is stored) or epoch ms')
    .option('--dedupe <fields>', 'keep one document of each group with equal values of these fields (comma-separated)')
    .option('--keep <which>', 'which duplicate survives: newest (default), oldest, newest:<field>, oldest:<field>', keepOption)
    .addHelpText(
      'after',
      `
Expired records are always removed (what the background sweeper does). --older-than deletes
documents whose date field is older, exactly as jobs.retain does (documents without the field,
or holding anything but a date, are kept); --dedupe runs collection.dedupe. Each step commits
on its own. --json prints { expired, retained?, deduped? }.

Examples:
  strata prune
  strata prune -c events --older-than 30d --field createdAt
  strata prune -c deployments --dedupe id --keep newest:createdAt`,
    )
    .action(async (options: PruneOptions, command: Command) => {
      const cli = Cli.of(command);
      checkCombination(options);
      // Made before the store opens, so a bad --field is BAD_INPUT with nothing done.
      const retain =
        options.collection !== undefined && options.olderThan !== undefined
          ? jobs.retain(options.collection, { olderThan: options.olderThan, field: options.field! })
          : undefined;
      const by = options.dedupe?.split(',').map((f) => f.trim());
      const report = await cli.withStore('read', async (store) => {
        if (options.collection !== undefined)
          await requireSpace(store, 'collection', options.collection, { hasCollectionFlag: false });
        const out: PruneReport = { expired: await store.purgeExpired() };
        if (retain !== undefined) out.retained = { collection: options.collection!, deleted: await retain(store) };
        if (by !== undefined) {
          const removed = await store
            .collection(options.collection!)
            .dedupe({ by: by.length === 1 ? by[0]! : by, ...(options.keep === undefined ? {} : { keep: options.keep }) });
          out.deduped = { collection: options.collection!, removed };
        }
        return out;
      });
      if (cli.json) return cli.data(report);
      cli.info(`removed ${formatCount(report.expired)} expired records`);
      if (report.retained)
        cli.info(
          `deleted ${formatCount(report.retained.deleted)} documents of ${report.retained.collection} older than ${String(options.olderThan)}`,
        );
      if (report.deduped) cli.info(`removed ${formatCount(report.deduped.removed)} duplicates from ${report.deduped.collection}`);
    });
}
