// The deploy tracker of seed 000 on Strata: `createTracker`, `persistAccessToken`,
// `persistRefreshToken`, `getData`, `setData`, deployment records, `pruneDupes` and the cron
// prune. The one implementation is src/cli/demo-tracker.ts, because `strata demo` (compiled
// from src/) runs it too; it imports only what `stratadb` and `stratadb/kits/auth` export, so
// an app copies that file and points its two imports at the package.
export {
  createTracker,
  DeployTracker,
  DEFAULT_PRUNE_CRON,
  DEFAULT_TRACKER_URL,
  PRUNE_JOB,
  TRACKER_SPACES,
} from '../../src/cli/demo-tracker.js';
export type {
  CreateTrackerOptions,
  DeploymentInput,
  DeploymentRecord,
  StoredDeployment,
  TrackerOptions,
} from '../../src/cli/demo-tracker.js';
