// `npm run example:deploy-tracker`: the deploy tracker's flow, end to end, on its default
// store (JSON files in .strata/deploy-tracker). Run after `npm run build` (the script does).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTracker, PRUNE_JOB } from '../../dist/cli/demo-tracker.js';

// The tokens are encrypted, so the tracker needs a keyring: STRATA_KEYS, else a key file this
// example makes once (mode 0600) and reuses, so a second run reads the first run's tokens.
const KEY_FILE = '.strata/deploy-tracker.keys';
function keyring() {
  if (process.env.STRATA_KEYS) return { keys: process.env.STRATA_KEYS, from: 'STRATA_KEYS' };
  mkdirSync('.strata', { recursive: true, mode: 0o700 });
  try {
    writeFileSync(KEY_FILE, `k1:${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
  return { keyFile: KEY_FILE, from: KEY_FILE };
}

const { from, ...keys } = keyring();
// Every second, so this short run sees the scheduled prune; the app's default is nightly.
const tracker = await createTracker({ ...keys, cron: '* * * * * *' });
const masked = (token) => (token === null ? 'null' : `${token.slice(0, 4)}... (${token.length} characters)`);

console.log(`store: file:.strata/deploy-tracker (JSON files); tokens encrypted with the keyring from ${from}`);
console.log(`getData('accessToken') before this run: ${masked(await tracker.getData('accessToken'))}`);

// 1. The OAuth callback.
const access = `gho_${randomBytes(27).toString('base64url')}`;
await tracker.persistAccessToken(access, { ttl: '1h' });
await tracker.persistRefreshToken(`ghr_${randomBytes(45).toString('base64url')}`);
console.log(
  `persistAccessToken / persistRefreshToken -> getData('accessToken'): ${masked(await tracker.getData('accessToken'))}`,
);

// 2. App data.
await tracker.setData('settings', { pollInterval: '30s', notify: ['failed'] });
console.log(`setData / getData('settings'): ${JSON.stringify(await tracker.getData('settings'))}`);
console.log(`getData('never-set'): ${JSON.stringify(await tracker.getData('never-set'))}`);

// 3. The webhook: one record per status change, so a deployment leaves duplicates.
await tracker.deployments.deleteWhere({}); // each run of the example starts afresh
const at = (minutes) => new Date(Date.now() - (60 - minutes) * 60_000);
await tracker.recordDeployments([
  { id: 'dep-1', repoName: 'web-app', branch: 'main', status: 'pending', createdAt: at(0) },
  { id: 'dep-2', repoName: 'api-server', branch: 'develop', status: 'pending', createdAt: at(1) },
  { id: 'dep-1', repoName: 'web-app', branch: 'main', status: 'running', createdAt: at(2) },
  { id: 'dep-1', repoName: 'web-app', branch: 'main', status: 'success', createdAt: at(5) },
  { id: 'dep-2', repoName: 'api-server', branch: 'develop', status: 'failed', createdAt: at(7) },
]);
const show = async (title) => {
  console.log(title);
  for (const d of await tracker.listDeployments())
    console.log(`  ${d.id}  ${d.repoName.padEnd(10)}  ${d.branch.padEnd(7)}  ${d.status.padEnd(7)}  ${d.createdAt}`);
};
await show('deployment records, newest first:');

// 4. The cron prune (pruneDupes('deployments')): wait for its first run.
const deadline = Date.now() + 5_000;
let job;
while (Date.now() < deadline) {
  job = (await tracker.store.stats()).schedules.find((s) => s.name === PRUNE_JOB);
  if ((job?.runs.length ?? 0) > 0 && (await tracker.deployments.count()) === 2) break;
  await new Promise((r) => setTimeout(r, 100));
}
const run = job?.runs[0];
console.log(
  `scheduled "${PRUNE_JOB}" (${job?.cron}): ${run ? `${run.outcome} in ${run.durationMs} ms at ${run.finishedAt}` : 'did not run'}`,
);
await show('after the prune (the newest record of each id):');

// 5. What is on disk: the tokens never are.
await tracker.close();
const files = readdirSync('.strata/deploy-tracker', { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => join(e.parentPath, e.name));
const leaking = files.filter((f) => readFileSync(f).includes(access));
console.log(`${files.length} files under .strata/deploy-tracker; the access token appears in ${leaking.length} of them`);
if (leaking.length > 0) process.exitCode = 1;
