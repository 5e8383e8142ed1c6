import type { Command } from 'commander';
import type { Store } from '../../store.js';
import { Cli, openCollection, requireSpace } from '../context.js';
import { intOption } from '../args.js';
import { spaceTable } from '../space-table.js';

interface ListOptions {
  collection?: boolean;
  prefix?: string;
  limit?: number;
  after?: string;
}

/** `strata list [name]`: every namespace and collection, or the keys of one. */
export function register(program: Command): void {
  program
    .command('list')
    .alias('ls')
    .description('list kv namespaces and collections with record counts, or the keys of one')
    .argument('[name]', 'a kv namespace (or a collection with -c) whose keys to list')
    .option('-c, --collection', '[name] is a collection: list its document keys')
    .option('--prefix <prefix>', 'only keys starting with this')
    .option('--limit <n>', 'at most n keys', intOption('--limit', { min: 1 }))
    .option('--after <key>', 'start after this key (the last key of the previous page)')
    .addHelpText(
      'after',
      `
Keys print one per line in key order (a key holding a newline or another control
character as a JSON string); --json prints one JSON document (an array of keys, or
{ kv, collections } without a name). When --limit cuts the list, stderr says how to go on.

Examples:
  strata list
  strata list auth
  strata list -c deployments --prefix rec-0001 --limit 20`,
    )
    .action(async (name: string | undefined, options: ListOptions, command: Command) => {
      const cli = Cli.of(command);
      await cli.withStore('read', async (store) =>
        name === undefined ? listAll(cli, store) : listKeys(cli, store, name, options),
      );
    });
}

/** A key as one line: one with a control character (a newline, a tab) prints as a JSON string. */
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const keyLine = (key: string): string => (/[\u0000-\u001f\u007f]/.test(key) ? JSON.stringify(key) : key);

async function listAll(cli: Cli, store: Store): Promise<void> {
  const stats = await store.stats();
  if (cli.json) return cli.data({ kv: stats.kv, collections: stats.collections });
  const rows = spaceTable(stats);
  if (rows === null) return cli.info(`the store is empty (${stats.location ?? stats.driver}); try \`strata demo\``);
  cli.out(rows);
}

async function listKeys(cli: Cli, store: Store, name: string, options: ListOptions): Promise<void> {
  const kind = options.collection ? 'collection' : 'kv';
  await requireSpace(store, kind, name);
  // One key more than asked: a next page exists only when it comes back.
  const page = {
    prefix: options.prefix,
    limit: options.limit === undefined ? undefined : Math.min(options.limit + 1, Number.MAX_SAFE_INTEGER),
    after: options.after,
  };
  const found =
    kind === 'kv' ? await store.kv(name).list(page) : await (await openCollection(store, name, 'read')).docs.keys(page);
  const cut = options.limit !== undefined && found.length > options.limit;
  const keys = cut ? found.slice(0, options.limit) : found;
  if (cli.json) cli.data(keys);
  else if (keys.length > 0) cli.out(keys.map(keyLine).join('\n'));
  if (cut) cli.note(`(${keys.length} shown; next page: --after ${JSON.stringify(keys[keys.length - 1])})`);
}
