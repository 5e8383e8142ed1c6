import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import type { Store } from '../../store.js';
import { StrataError } from '../../errors.js';
import { localPath, type Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { DemoInterrupted, DemoStop, printInterrupted } from '../demo-interrupt.js';
import { intOption } from '../args.js';
import { progress } from '../progress.js';
import { deployments, REPOS, STATUSES, type Deployment } from '../demo-data.js';
import { printDemo, type DemoResult, type Phase } from '../demo-report.js';
import { demoKeyring, type DemoKeyring } from '../demo-keys.js';
import { DeployTracker, TRACKER_SPACES } from '../demo-tracker.js';
import { MigratorLease } from '../../ops/migrate-lock.js';

interface DemoOptions {
  records: number;
  batch: number;
  seed: number;
}

const MAX_RECORDS = 1_000_000;

/** `strata demo`: the deploy-tracker app of seed 000, run for real on the store. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('run the deploy-tracker sample app on the store: tokens, settings, deployments, dedupe')
    .option(
      '--records <n>',
      'deployment records to write (about 15% are duplicates)',
      intOption('--records', { min: 1, max: MAX_RECORDS, example: 5000 }),
      5000,
    )
    .option('--batch <n>', 'records per insertMany batch', intOption('--batch', { min: 1 }), 250)
    .option('--seed <n>', 'seed for the generated data (same seed, same data)', intOption('--seed'), 0)
    .addHelpText(
      'after',
      `
It runs the module of examples/deploy-tracker, phase by phase (each timed):
  auth      persistAccessToken / persistRefreshToken: kv "auth.tokens", encrypted (the access
            token with a 1h ttl); removes the plain-text tokens older demos left in kv "auth"
  settings  setData / getData: kv "app" (settings, lastSync, and demoRuns counting runs)
  reset     empties the "deployments" collection: every run starts it afresh
  insert    <n> deployment records, about 15% of them a later status of an earlier deployment,
            in atomic batches (key: recordId; indexes: status, repoName, createdAt)
  queries   failed deployments of web-app, newest first; counts per status
  dedupe    pruneDupes('deployments'): keeps the newest record (createdAt) of each deployment id
Then a summary of what is stored. Default store: the embedded sqlite:.strata/strata.db.
Keyring: --keys-file or $STRATA_KEYS; without either, the demo makes demo.keys (mode 0600)
beside the store on its first run (.strata/demo.keys) and reuses it; later commands need
--keys-file <that file> to read the tokens.`,
    )
    .action(async (options: DemoOptions, command: Command) => {
      const { cli, keyring, discard } = demoKeyring(command);
      const stop = new DemoStop(cli, options.records);
      let opened = false;
      try {
        const result = await cli
          .withStore('write', (store) => {
            opened = true;
            return oneAtATime(store, () => runDemo(cli, store, options, stop, keyring));
          })
          .catch((error: unknown) => {
            // A store that did not open (not a store, damaged, a bad URL parameter) used no key.
            if (!opened) discard();
            throw error;
          });
        // What `strata stats` will say: measured on the closed store, as a fresh open sees it
        // (closing checkpoints SQLite's WAL into the main file).
        if (localPath(cli.url) !== null) result.stats = await cli.withStore('read', (store) => store.stats());
        printDemo(cli, result);
      } catch (error) {
        if (!(error instanceof DemoInterrupted)) throw error;
        const location = localPath(cli.url);
        const deployments =
          location === null
            ? null
            : await cli.withStore('read', async (store) =>
                (await store.names()).collections.includes('deployments') ? store.collection('deployments').count() : 0,
              );
        printInterrupted(cli, error.progress, { url: cli.url, location, deployments });
        process.exitCode = EXIT.INTERRUPTED;
      } finally {
        stop.dispose();
      }
    });
}

/**
 * How long the demo's lease lasts unrenewed (it is renewed every third of that while the demo
 * runs). A demo that died on this machine frees the store at once, one elsewhere after this.
 */
const LEASE_TTL_MS = 5 * 60_000;

/**
 * One demo at a time per store: two would empty and refill "deployments" under each other,
 * and each would report the other's records. The demo runs under the store's migrator lease
 * (what `strata migrate` runs under, across processes): like a migration it rewrites a whole
 * collection, so it must not run beside one either. A second demo is refused at once (exit 6).
 */
async function oneAtATime<T>(store: Store, fn: () => Promise<T>): Promise<T> {
  const lease = new MigratorLease(store.driver, () => Date.now(), LEASE_TTL_MS);
  try {
    await lease.acquire(0);
  } catch (error) {
    if (!StrataError.is(error, 'TIMEOUT')) throw error;
    throw new StrataError('LOCKED', 'another `strata demo` or a migration is running on this store', {
      hint: 'wait for it to finish and run `strata demo` again, or give this one a store of its own with --url',
    });
  }
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

async function runDemo(cli: Cli, store: Store, options: DemoOptions, stop: DemoStop, keyring: DemoKeyring): Promise<DemoResult> {
  const tracker = new DeployTracker(store);
  const phases: Phase[] = [];
  const timed = async <T>(name: string, records: number | ((r: T) => number), fn: () => Promise<T>): Promise<T> => {
    await stop.check();
    stop.progress.phase = name;
    const started = performance.now();
    const result = await fn();
    phases.push({ name, ms: performance.now() - started, records: typeof records === 'number' ? records : records(result) });
    stop.progress.phasesDone.push(name);
    stop.progress.phase = null;
    return result;
  };

  // 1. OAuth callback: persistAccessToken / persistRefreshToken, encrypted at rest.
  const legacyTokensRemoved = await timed('auth', 3, async () => {
    const access = `gho_${randomBytes(27).toString('base64url')}`;
    await tracker.persistAccessToken(access, { ttl: '1h' });
    await tracker.persistRefreshToken(`ghr_${randomBytes(45).toString('base64url')}`);
    if ((await tracker.getData('accessToken')) !== access)
      throw new StrataError('INTEGRITY', 'demo: the access token did not read back');
    // Demos before the tokens were encrypted kept them in plain text in kv "auth".
    if (!(await store.names()).kv.includes('auth')) return 0;
    return store.kv('auth').deleteMany(['accessToken', 'refreshToken']);
  });

  // 2. App settings: setData / getData.
  const run = await timed('settings', 4, async () => {
    await tracker.setData('settings', { pollInterval: '30s', notify: ['failed'], repos: REPOS.slice(0, 4), theme: 'dark' });
    await tracker.setData('lastSync', new Date().toISOString());
    await tracker.getData('settings');
    return store.kv(TRACKER_SPACES.data).incr('demoRuns');
  });

  // 3. The deployments collection, emptied so every run reports the same shape of numbers.
  const docs = tracker.deployments;
  const cleared = await timed(
    'reset',
    (n) => n,
    () => docs.deleteWhere({}),
  );

  // 4. The webhook's records, in batches, with a progress bar.
  let duplicatesWritten = 0;
  let batches = 0;
  await timed('insert', options.records, async () => {
    const bar = progress(cli, 'deployments', options.records);
    try {
      let pending: Deployment[] = [];
      const flush = async (): Promise<void> => {
        await stop.check(); // between batches: every batch written is whole
        await tracker.recordDeployments(pending);
        bar.advance(pending.length);
        batches++;
        stop.progress.batches = batches;
        stop.progress.recordsWritten += pending.length;
        pending = [];
      };
      for (const { doc, dupe } of deployments({ total: options.records, seed: options.seed, end: Date.now() })) {
        if (dupe) duplicatesWritten++;
        pending.push(doc);
        if (pending.length >= options.batch) await flush();
      }
      if (pending.length > 0) await flush();
    } finally {
      bar.stop();
    }
  });

  // 5. What the dashboard asks: one repo's failures, newest first; counts per status.
  const repo = REPOS[0]!;
  const countPerStatus = async (): Promise<number[]> => Promise.all(STATUSES.map((status) => docs.count({ status })));
  const queried = await timed('queries', STATUSES.length + 2, async () => {
    const newest = (await tracker.listDeployments({ repoName: repo, status: 'failed' }, { limit: 5 })) as Deployment[];
    const failed = await docs.count({ repoName: repo, status: 'failed' });
    return { newest, failed, before: await countPerStatus() };
  });

  // 6. The nightly cron: pruneDupes.
  const before = await docs.count();
  const duplicatesRemoved = await timed('dedupe', before, () => tracker.pruneDupes(TRACKER_SPACES.deployments));
  const after = await countPerStatus();
  const remaining = await docs.count();

  const perStatus = Object.fromEntries(STATUSES.map((s, i) => [s, { before: queried.before[i]!, after: after[i]! }]));
  return {
    url: cli.url,
    run,
    records: options.records,
    batchSize: options.batch,
    batches,
    cleared,
    duplicatesWritten,
    duplicatesRemoved,
    remaining,
    failedOfRepo: { repo, count: queried.failed, newest: queried.newest },
    perStatus,
    tokens: {
      namespace: TRACKER_SPACES.tokens,
      encrypted: true,
      accessTokenKey: (await store.kv(TRACKER_SPACES.tokens).list({ prefix: 'access:', limit: 1 }))[0] ?? null,
      keyring,
      legacyRemoved: legacyTokensRemoved,
    },
    phases,
    stats: await store.stats(),
  };
}
