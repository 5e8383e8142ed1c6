import type { StoreStats } from '../store.js';
import { DEFAULT_URL } from '../store.js';
import type { Deployment } from './demo-data.js';
import type { Cli } from './context.js';
import { formatBytes, formatCount, formatMs, formatRate, pairs, table } from './output.js';
import { spaceTable } from './space-table.js';

export interface Phase {
  name: string;
  ms: number;
  /** Records read or written in the phase (for the rate column). */
  records: number;
}

export interface DemoResult {
  url: string;
  run: number;
  records: number;
  batchSize: number;
  batches: number;
  cleared: number;
  duplicatesWritten: number;
  duplicatesRemoved: number;
  remaining: number;
  failedOfRepo: { repo: string; count: number; newest: Deployment[] };
  perStatus: Record<string, { before: number; after: number }>;
  phases: Phase[];
  stats: StoreStats;
}

/** How to reach the same store again from a shell. */
export function strataCommand(url: string): string {
  if (url === DEFAULT_URL || url === process.env.STRATA_URL) return 'npx strata';
  return `npx strata --url '${url.replaceAll("'", `'\\''`)}'`;
}

/** Prints the demo's summary: one JSON document with --json, nothing with --quiet. */
export function printDemo(cli: Cli, r: DemoResult): void {
  if (cli.json) return cli.data(r);
  if (cli.quiet) return;
  const where = r.stats.location ?? r.stats.driver;
  const lines: string[] = [];
  lines.push(`Strata demo: the deploy-tracker app (seed 000), run #${r.run} on ${r.stats.driver} ${where}`);
  lines.push(
    r.cleared > 0
      ? `Each run starts "deployments" afresh: removed the ${formatCount(r.cleared)} left by the previous run; kv "auth" and "app" were updated in place.`
      : 'Each run starts "deployments" afresh; kv "auth" and "app" are updated in place.',
  );
  lines.push('');
  lines.push(
    pairs([
      ['auth', 'accessToken (expires in 1h) and refreshToken stored in kv "auth"'],
      ['settings', `settings, lastSync and demoRuns (= ${r.run}) stored in kv "app"`],
      [
        'insert',
        `${formatCount(r.records)} deployment records, ${formatCount(r.duplicatesWritten)} of them duplicates (${pct(r.duplicatesWritten, r.records)}), in ${formatCount(r.batches)} batches of ${formatCount(r.batchSize)}`,
      ],
      [
        'dedupe',
        `removed ${formatCount(r.duplicatesRemoved)} duplicates; ${formatCount(r.remaining)} deployments remain (one per id)`,
      ],
    ]),
  );
  lines.push(
    '',
    `Failed deployments of ${r.failedOfRepo.repo}, newest first (${formatCount(r.failedOfRepo.count)} in all, before dedupe):`,
  );
  lines.push(
    r.failedOfRepo.newest.length === 0
      ? '  (none)'
      : indent(
          table(
            ['id', 'branch', 'status', 'createdAt'],
            r.failedOfRepo.newest.map((d) => [d.id, d.branch, d.status, d.createdAt]),
          ),
        ),
  );
  lines.push('', 'Records per status:');
  const statusRows = Object.entries(r.perStatus).map(([s, c]) => [s, formatCount(c.before), formatCount(c.after)]);
  lines.push(indent(table(['status', 'before dedupe', 'after dedupe'], statusRows)));
  lines.push('', 'Timing:');
  const phaseRows = r.phases.map((p) => [p.name, formatCount(p.records), formatMs(p.ms), formatRate(p.records, p.ms)]);
  lines.push(indent(table(['phase', 'records', 'time', 'rate'], phaseRows)));
  lines.push('', 'What is stored:');
  lines.push(indent(spaceTable(r.stats) ?? '(nothing)'));
  if (r.stats.storageBytes !== undefined) lines.push(`  storage: ${formatBytes(r.stats.storageBytes)} at ${where}`);
  if (r.stats.driver === 'memory' || where === ':memory:') {
    lines.push(
      '',
      'This store lives in memory: the data is gone when the process exits. Drop --url to keep it in .strata/strata.db.',
    );
  } else {
    const strata = strataCommand(r.url);
    lines.push(
      '',
      'Look at it:',
      `  ${strata} list`,
      `  ${strata} query deployments '{"status":"failed"}' --limit 5`,
      `  ${strata} stats`,
    );
  }
  cli.out(lines.join('\n'));
}

function pct(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${((part / whole) * 100).toFixed(1)}%`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
