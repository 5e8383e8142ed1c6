import type { Command } from 'commander';
import { StrataError } from '../../errors.js';
import { Cli, requireSpace } from '../context.js';
import { intOption } from '../args.js';

interface DelOptions {
  collection?: boolean;
  ifVersion?: number;
  force?: boolean;
}

/** `strata del <name> <key>`: deletes a kv key, or with -c a document. */
export function register(program: Command): void {
  program
    .command('del')
    .alias('delete')
    .description('delete a key (kv), or a document (-c)')
    .argument('<name>', 'kv namespace (or collection with -c)')
    .argument('<key>', 'key (or document key with -c)')
    .option('-c, --collection', '<name> is a collection')
    .option(
      '--if-version <n>',
      'delete only if the stored version is n, else CONFLICT',
      intOption('--if-version', { min: 1, example: 3 }),
    )
    .option('-f, --force', 'exit 0 when the key does not exist (like rm -f)')
    .addHelpText(
      'after',
      `
A missing key exits 3 (NOT_FOUND) unless --force. --json prints {key, deleted}.

Examples:
  strata del auth accessToken
  strata del -c deployments rec-0000042 --if-version 2`,
    )
    .action(async (name: string, key: string, options: DelOptions, command: Command) => {
      const cli = Cli.of(command);
      const kind = options.collection ? 'collection' : 'kv';
      const done = (deleted: boolean): void => {
        if (cli.json) cli.data({ key, deleted });
        else cli.info(deleted ? `deleted ${name}/${key}` : `${name}/${key} did not exist`);
      };
      try {
        await cli.withStore('read', async (store) => {
          await requireSpace(store, kind, name);
          const opts = options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion };
          const deleted = kind === 'kv' ? await store.kv(name).delete(key, opts) : await store.collection(name).delete(key, opts);
          if (!deleted) {
            throw new StrataError('NOT_FOUND', `no ${kind === 'kv' ? 'key' : 'document'} "${key}" in "${name}"`, {
              hint: 'pass --force to treat a missing key as deleted',
            });
          }
        });
        done(true);
      } catch (error) {
        if (!options.force || !StrataError.is(error, 'NOT_FOUND')) throw error;
        done(false);
      }
    });
}
