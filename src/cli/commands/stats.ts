import type { Command } from 'commander';
import { Cli } from '../context.js';
import { formatBytes, formatCount, pairs, table } from '../output.js';

/** `strata stats`: records and bytes per namespace and collection, storage size, location. */
export function register(program: Command): void {
  program
    .command('stats')
    .description('records and bytes per kv namespace and collection, storage size and location')
    .addHelpText(
      'after',
      `
Bytes per namespace count stored keys and values; "storage" is what the backend occupies
(file size for sqlite:, including the WAL). --json prints store.stats() as is.`,
    )
    .action(async (_options: unknown, command: Command) => {
      const cli = Cli.of(command);
      await cli.withStore('read', async (store) => {
        const stats = await store.stats();
        if (cli.json) return cli.data(stats);
        cli.out(
          pairs([
            ['driver', stats.driver],
            ['location', stats.location ?? '-'],
            ['storage', formatBytes(stats.storageBytes)],
            ['records', `${formatCount(stats.records)} (${formatBytes(stats.bytes)} of keys and values)`],
          ]),
        );
        const rows = [
          ...stats.kv.map((s) => ['kv', s.name, formatCount(s.records), formatBytes(s.bytes)]),
          ...stats.collections.map((s) => ['collection', s.name, formatCount(s.records), formatBytes(s.bytes)]),
        ];
        if (rows.length > 0) cli.out(`\n${table(['kind', 'name', 'records', 'bytes'], rows)}`);
      });
    });
}
