import type { Command } from 'commander';
import { StrataError } from '../../errors.js';
import { Cli } from '../context.js';
import type { ScheduleStats } from '../../ops/schedule-stats.js';
import { cell, formatBytes, formatCount, formatMs, pairs, table } from '../output.js';
import { spaceTable, type SpaceRow } from '../space-table.js';
import { metricsTable } from '../metrics-table.js';
import { readTotals } from '../../observe/persist.js';

/**
 * `strata stats`: records and bytes per namespace and collection, storage size, location, and
 * the operation counters that app processes with `metrics` on wrote to the store.
 */
export function register(program: Command): void {
  program
    .command('stats')
    .description('records and bytes per kv namespace and collection, storage size and location, operation metrics')
    .option('--prometheus', "print the store's records, bytes and storage gauges in Prometheus text format")
    .addHelpText(
      'after',
      `
Records are live records (what get and list see; expired ones are not counted), with an
"expired" column for those not swept yet when there are any. Bytes per namespace count
stored keys and values; "storage" is what the backend occupies (file size for sqlite:,
including the WAL). Scheduled jobs (store.schedule) are listed with their last outcome,
how long it took and the next slot; --json has their last outcomes in "schedules".

Operations: processes that open the store with openStore({ metrics: true }) write their
counters into it (every minute and on close; a process's record expires 7 days after its
last write). Shown are the totals over those records per namespace and collection and per
operation kind (get, getMany, scan, count, batch): count, failures by error code, and p50 /
p99 latency estimated from the histogram buckets. This command's own process counts nothing.
--json prints store.stats() as is, plus "metrics": those totals, internal meta.* spaces
included. --prometheus prints the gauges alone (the app's store.metrics() has the counters).`,
    )
    .action(async (options: { prometheus?: boolean }, command: Command) => {
      const cli = Cli.of(command);
      if (cli.json && options.prometheus === true) {
        throw new StrataError('BAD_INPUT', '--json and --prometheus are two output formats: give one', {
          hint: 'drop --json for the Prometheus text, or --prometheus for one JSON document',
        });
      }
      await cli.withStore('read', async (store) => {
        if (options.prometheus === true) return process.stdout.write(await store.metrics());
        const stats = await store.stats();
        const metrics = await readTotals(store.driver, Date.now());
        if (cli.json) return cli.data({ ...stats, metrics });
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
        const operations = metricsTable(metrics);
        if (operations !== null) cli.out(`\n${operations}`);
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
