// Child of hostile.test.ts: one bot process with the nightly prune scheduled every second,
// started with the others at one moment (test/fixtures/start-barrier.mjs), kept up for
// <ms> milliseconds, then closed. args: <store url> <ms>; the keyring from STRATA_KEYS.
import { createTracker } from '../../dist/cli/demo-tracker.js';
import { startBarrier } from '../../test/fixtures/start-barrier.mjs';

const [url, ms] = process.argv.slice(2);
const tracker = await createTracker({ url, cron: '* * * * * *' });
await startBarrier();
await new Promise((resolve) => setTimeout(resolve, Number(ms)));
await tracker.close();
process.stdout.write('D {}\n');
