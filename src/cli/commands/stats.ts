import type { Command } from 'commander';
import { Cli } from '../context.js';
import { formatBytes, formatCount, pairs } from '../output.js';
import { spaceTable, type SpaceRow } from '../space-table.js';

/** `strata stats`: records and bytes per namespace and collection, storage size, location. */
export function register(program: Command): void {
  program
    .command('stats')
    .description('records and bytes per kv namespace and collection, storage size and location')
    .addHelpText(
      'after',
      `
Records are live records (what get and list see; expired ones are not counted), with an
"expired" column for those not swept yet when there are any. Bytes per namespace count
stored keys and values; "storage" is what the backend occupies (file size for sqlite:,
including the WAL). --json prints store.stats() as is.`,
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
            ['records', `${formatCount(stats.records)} (${formatBytes(stats.bytes)} of keys and values)${expiredNote(stats)}`],
          ]),
        );
        const rows = spaceTable(stats);
        if (rows !== null) cli.out(`\n${rows}`);
      });
    });
}

/** `, plus 3 expired not yet swept` when the backend reports expired records still stored. */
function expiredNote(stats: { kv: readonly SpaceRow[]; collections: readonly SpaceRow[] }): string {
  const expired = [...stats.kv, ...stats.collections].reduce((n, s) => n + (s.expired ?? 0), 0);
  return expired > 0 ? `, plus ${formatCount(expired)} expired not yet swept` : '';
}
