import type { Command } from 'commander';
import { Cli } from '../context.js';
import type { ScheduleStats } from '../../ops/schedule-stats.js';
import { cell, formatBytes, formatCount, formatMs, pairs, table } from '../output.js';
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
including the WAL). Scheduled jobs (store.schedule) are listed with their last outcome,
how long it took and the next slot; --json has their last outcomes in "schedules".
--json prints store.stats() as is.`,
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
        if (stats.schedules.length > 0) cli.out(`\n${scheduleTable(stats.schedules)}`);
      });
    });
}

/** `, plus 3 expired not yet swept` when the backend reports expired records still stored. */
function expiredNote(stats: { kv: readonly SpaceRow[]; collections: readonly SpaceRow[] }): string {
  const expired = [...stats.kv, ...stats.collections].reduce((n, s) => n + (s.expired ?? 0), 0);
  return expired > 0 ? `, plus ${formatCount(expired)} expired not yet swept` : '';
}

/** `job cron last-slot outcome took next` for each scheduled job. */
function scheduleTable(schedules: readonly ScheduleStats[]): string {
  const rows = schedules.map((s) => {
    const last = s.runs[0];
    let outcome: string = last?.outcome ?? '-';
    if (last?.outcome === 'error') outcome = `error: ${cell(last.error ?? '', 40)}`;
    if (s.running.length > 0) outcome = 'running';
    if (s.damaged) outcome = 'damaged record';
    return [
      s.name,
      s.timezone === null ? s.cron : `${s.cron} (${s.timezone})`,
      s.lastSlot ?? '-',
      outcome,
      last?.durationMs == null ? '-' : formatMs(last.durationMs),
      s.nextRun ?? '-',
    ];
  });
  return table(['job', 'cron', 'last slot', 'last outcome', 'took', 'next run'], rows);
}
