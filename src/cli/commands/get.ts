import type { Command } from 'commander';
import { StrataError } from '../../errors.js';
import { Cli, openCollection, requireSpace } from '../context.js';
import { formatExpiry, humanValue, pairs } from '../output.js';

interface GetOptions {
  collection?: boolean;
  entry?: boolean;
}

/** `strata get <name> <key>`: a kv value, or with -c a document by its key. */
export function register(program: Command): void {
  program
    .command('get')
    .description('print the value under a key (kv), or a document by key (-c)')
    .argument('<name>', 'kv namespace (or collection with -c)')
    .argument('<key>', 'key (or document key with -c)')
    .option('-c, --collection', '<name> is a collection')
    .option('--entry', 'also print version and timestamps')
    .addHelpText(
      'after',
      `
Strings print raw, other values as JSON; --json prints the value as JSON (with --entry the
whole entry). A missing key prints nothing on stdout and exits 3 (NOT_FOUND).

Examples:
  strata get app settings
  strata get auth accessToken --entry
  strata get -c deployments rec-0000042 --json`,
    )
    .action(async (name: string, key: string, options: GetOptions, command: Command) => {
      const cli = Cli.of(command);
      const kind = options.collection ? 'collection' : 'kv';
      await cli.withStore('read', async (store) => {
        await requireSpace(store, kind, name);
        const entry =
          kind === 'kv'
            ? await store.kv(name).getEntry(key)
            : await (await openCollection(store, name, 'read')).docs.getEntry(key);
        if (entry === null) {
          throw new StrataError(
            'NOT_FOUND',
            `no ${kind === 'kv' ? 'key' : 'document'} "${key}" in ${kind === 'kv' ? 'kv namespace' : 'collection'} "${name}"`,
            {
              hint: `see the keys with \`strata list ${options.collection ? '-c ' : ''}${name}\``,
              details: { name, key },
            },
          );
        }
        if (cli.json) return cli.data(options.entry ? entry : entry.value);
        if (!options.entry) return cli.out(humanValue(entry.value));
        cli.out(
          pairs([
            ['key', entry.key],
            ['version', String(entry.version)],
            ['created', entry.createdAt.toISOString()],
            ['updated', entry.updatedAt.toISOString()],
            ['expires', formatExpiry(entry.expiresAt)],
            ['value', humanValue(entry.value)],
          ]),
        );
      });
    });
}
