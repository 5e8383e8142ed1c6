import type { Command } from 'commander';
import type { Sort } from '../../collection-types.js';
import { parseFilter, parseSort } from '../../query/parse.js';
import { StrataError } from '../../errors.js';
import { Cli, openCollection, requireSpace } from '../context.js';
import { fieldsOption, intOption, parseObjectArg, sortOption } from '../args.js';
import { cell, formatCount, table } from '../output.js';

interface QueryOptions {
  sort?: Sort;
  limit?: number;
  offset?: number;
  count?: boolean;
  fields?: string[];
  jsonl?: boolean;
}

/** Without --limit, a person sees this many rows (scripts with --json get everything). */
const HUMAN_LIMIT = 50;
const MAX_COLUMNS = 8;

/** `strata query <collection> [filter]`: matching documents as a table or JSON. */
export function register(program: Command): void {
  program
    .command('query')
    .description('find documents in a collection')
    .argument('<collection>', 'collection name')
    .argument('[filter]', 'JSON filter, e.g. \'{"status":"failed","createdAt":{"$gte":"2024-01-01"}}\'', '{}')
    .option('--sort <spec>', '\'{"createdAt":-1}\', createdAt:desc, or -createdAt (comma-separated for several)', sortOption)
    .option(
      '--limit <n>',
      `at most n documents (default: ${HUMAN_LIMIT} for tables, all with --json)`,
      intOption('--limit', { min: 1 }),
    )
    .option('--offset <n>', 'skip the first n matches', intOption('--offset'))
    .option('--count', 'print only the number of matches')
    .option('--fields <list>', 'table columns, e.g. id,status,createdAt', fieldsOption)
    .option('--jsonl', 'print one JSON document per line')
    .addHelpText(
      'after',
      `
Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $prefix, $and $or, dotted paths.
An unknown operator or a malformed filter exits 2 (BAD_INPUT). --json prints a JSON array.

Examples:
  strata query deployments '{"status":"failed"}' --limit 5
  strata query deployments '{"repoName":"web-app"}' --sort createdAt:desc --fields id,branch,status
  strata query deployments '{"status":{"$in":["failed","cancelled"]}}' --count`,
    )
    .action(async (name: string, filterText: string, options: QueryOptions, command: Command) => {
      const cli = Cli.of(command);
      if (cli.json && options.jsonl === true) {
        throw new StrataError('BAD_INPUT', '--json and --jsonl are two output formats: give one', {
          hint: 'drop --jsonl for one JSON array, or --json for one JSON document per line',
        });
      }
      const filter = parseObjectArg(filterText, 'the filter');
      parseFilter(filter); // refuse a bad filter before touching the store
      parseSort(options.sort);
      await cli.withStore('read', async (store) => {
        await requireSpace(store, 'collection', name, { hasCollectionFlag: false });
        const { docs } = await openCollection(store, name, 'read');
        if (options.count) return cli.out(String(await docs.count(filter)));
        const machine = cli.json || options.jsonl === true;
        const limit = options.limit ?? (machine ? undefined : HUMAN_LIMIT);
        const found = await docs.query(filter, { sort: options.sort, limit, offset: options.offset });
        if (options.jsonl) return found.forEach((doc) => cli.data(doc));
        if (cli.json) return cli.data(found);
        if (found.length === 0) return cli.note('no documents match');
        cli.out(table(...columns(found, options.fields)));
        if (options.limit === undefined && found.length === HUMAN_LIMIT) {
          const total = await docs.count(filter);
          if (total > found.length + (options.offset ?? 0)) {
            cli.note(`(${formatCount(found.length)} of ${formatCount(total)} shown; use --limit, --offset or --json for more)`);
          }
        }
      });
    });
}

function columns(docs: ReadonlyArray<Record<string, unknown>>, fields: string[] | undefined): [string[], string[][]] {
  let names = fields;
  if (names === undefined) {
    const seen = new Set<string>();
    for (const doc of docs) for (const k of Object.keys(doc)) seen.add(k);
    names = [...seen].slice(0, MAX_COLUMNS);
  }
  const pick = (doc: Record<string, unknown>, path: string): unknown =>
    path
      .split('.')
      .reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), doc);
  return [names, docs.map((doc) => names.map((n) => cell(pick(doc, n))))];
}
