// Child process: takes and releases the file driver's lock with a new lock instance each
// time (so each writes a fresh owner record and removes it), and takes and releases the
// compaction claim, until SIGKILLed. Prints `R` once it has done both the first time.
// usage: node lock-churn-worker.mjs <dir>
import { join } from 'node:path';
import { writeSync } from 'node:fs';
import { claimCompaction, releaseCompaction } from '../../../dist/drivers/file/compaction.js';
import { FileLock } from '../../../dist/drivers/file/lock.js';

const [dir] = process.argv.slice(2);
for (let i = 0; ; i++) {
  const lock = new FileLock(join(dir, 'strata.lock'), 30_000, 'file');
  await lock.acquire();
  lock.release();
  lock.dispose();
  if (claimCompaction(dir)) releaseCompaction(dir);
  if (i === 0) writeSync(1, 'R\n');
}
