// Child process of tracker.test.ts: writes with the tracker in a loop until it is killed.
// Each round i: a deployment record, then setData('round', i), then the access token of
// round i, so after a kill -9 the store must hold records 1..round (maybe one more) and the
// token of round - 1 or round. Runs in the store's parent directory with the default URL
// (file:.strata/deploy-tracker) and STRATA_KEYS from the environment.
import { createTracker } from '../../dist/cli/demo-tracker.js';

const tracker = await createTracker({ cron: false });
for (let i = 1; ; i++) {
  await tracker.recordDeployment({ id: `dep-${i}`, repoName: 'web-app', branch: 'main', status: 'success' });
  await tracker.setData('round', i);
  await tracker.persistAccessToken(`gho_crash_${i}`);
  if (i === 1) process.stdout.write('ready\n');
}
