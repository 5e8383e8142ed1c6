import type { StoreStats } from '../store.js';
import { DEFAULT_URL } from '../store.js';
import type { Deployment } from './demo-data.js';
import type { Cli } from './context.js';
import { formatBytes, formatCount, formatMs, formatRate, pairs, table } from './output.js';
import { spaceTable } from './space-table.js';
import type { DemoKeyring } from './demo-keys.js';

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
  /** Where the tokens went and which keyring encrypted them (its source and file, never the key). */
  tokens: {
    namespace: string;
    encrypted: true;
    /** The key the access token is stored under (the auth kit hashes the owner into it). */
    accessTokenKey: string | null;
    keyring: DemoKeyring;
    legacyRemoved: number;
  };
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
      ? `Each run starts "deployments" afresh: removed the ${formatCount(r.cleared)} left by the previous run; kv "${r.tokens.namespace}" and "app" were updated in place.`
      : `Each run starts "deployments" afresh; kv "${r.tokens.namespace}" and "app" are updated in place.`,
  );
  lines.push('');
  lines.push(
    pairs([
      [
        'auth',
        `accessToken (expires in 1h) and refreshToken stored encrypted (AES-256-GCM) in kv "${r.tokens.namespace}"${r.tokens.legacyRemoved > 0 ? `; removed ${r.tokens.legacyRemoved} plain-text tokens an older demo left in kv "auth"` : ''}`,
      ],
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
  lines.push('', keyringLine(r.tokens.keyring));
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
    const keys = r.tokens.keyring.path === null ? '' : ` --keys-file ${quoted(r.tokens.keyring.path)}`;
    lines.push(`  ${strata}${keys} verify   # with the keyring it opens every ciphertext too (without: checksums only)`);
    if (r.tokens.accessTokenKey !== null)
      lines.push(
        `  ${strata}${keys} get ${r.tokens.namespace} ${quoted(r.tokens.accessTokenKey)}   # the access token, decrypted`,
      );
  }
  cli.out(lines.join('\n'));
}

function keyringLine(keyring: DemoKeyring): string {
  switch (keyring.source) {
    case 'keys-file':
      return `Tokens are encrypted with the keyring in ${keyring.path} (--keys-file).`;
    case 'env':
      return 'Tokens are encrypted with the keyring in STRATA_KEYS.';
    case 'ephemeral':
      return 'Tokens are encrypted with a keyring made for this run (the store is in memory).';
    case 'demo-file':
      return [
        `Tokens are encrypted with the demo keyring ${keyring.path} (${keyring.created ? 'created by this run' : 'made by an earlier run'}, mode 0600).`,
        `Commands that read them need it: --keys-file ${quoted(keyring.path!)} (or the same keyring in STRATA_KEYS).`,
      ].join('\n');
  }
}

function quoted(path: string): string {
  return /^[\w./~-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
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
