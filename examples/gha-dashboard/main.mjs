// `npm run example:gha-dashboard`: the collector of seed 001 against a built-in fake GitHub
// API on 127.0.0.1 (no other network), into .strata/gha-dashboard/acme__web.db. It collects
// the newest pages, then everything (skipping what it holds), collects it again (nothing new: almost no calls), adds runs upstream and
// collects once more (only the new runs' calls), and prints what each collection fetched.
// Run after `npm run build` (the script does).
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { collectRepository, readDashboard } from './collector.mjs';
import { startFakeApi } from './fake-api.mjs';

const dir = '.strata/gha-dashboard';
rmSync(dir, { recursive: true, force: true }); // each run of the example starts afresh
const api = await startFakeApi({
  repos: {
    'acme/web': [
      { id: 101, name: 'CI', runs: 420 },
      { id: 102, name: 'Release', runs: 60 },
      { id: 103, name: 'Nightly', runs: 0 },
    ],
  },
});
const target = { dir, owner: 'acme', repo: 'web', apiUrl: api.url, perPage: 50 };

async function collect(title, extra = {}) {
  const from = api.calls.length;
  const started = performance.now();
  const r = await collectRepository({ ...target, ...extra });
  const ms = Math.round(performance.now() - started);
  const calls = api.calls.slice(from);
  const pages = calls.filter((c) => c.includes('/runs?')).length;
  const jobs = calls.filter((c) => c.includes('/jobs?')).length;
  console.log(`${title}: ${calls.length} API calls (${pages} pages of runs, ${jobs} job lists) in ${ms} ms`);
  console.log(
    `  saved ${r.runsSaved} runs (batches of 50), jobs fetched for ${r.jobsFetched} runs, skipped for ${r.jobsSkipped}; ` +
      `${r.pagesCovered} fetched pages already held, ${r.pagesJumped} pages not fetched`,
  );
}

console.log(`fake GitHub API at ${api.url}; store sqlite:${dir}/acme__web.db`);
await collect('1. first collection, newest 3 pages of 50 per workflow only (maxPages: 3)', { maxPages: 3 });
api.addRuns('acme/web', 101, 10);
await collect('2. full collection after 10 new CI runs (pages already held are skipped)');
await collect('3. again, nothing new');
api.addRuns('acme/web', 101, 62);
api.addRuns('acme/web', 102, 3);
await collect('4. after 65 new runs upstream');

const d = await readDashboard(target);
console.log(
  `runs held: ${Object.keys(d.runs).length} of ${api.runCount('acme/web')}; runs with jobs: ${Object.keys(d.jobs_by_run).length}`,
);
for (const [id, w] of Object.entries(d.workflow_date_ranges))
  console.log(`  workflow ${id} ${w.workflow_name}: ${w.runs} runs, ${w.earliest} .. ${w.latest}, complete: ${w.complete}`);
console.log(`last_updated: ${d.last_updated}`);
await api.close();
