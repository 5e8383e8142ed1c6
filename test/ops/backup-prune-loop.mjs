// Child of test/ops/backup-prune-race.test.ts: takes a backup then prunes to the newest 2,
// over and over, for <ms> ms. Prints `R` once open, `D <id>` after each backup, `E <code> <op>: <message>`
// for each call that failed (and goes on), `X <backups> <errors>` at the end.
//
// usage: node backup-prune-loop.mjs <url> <backup dir> <ms>
import { openStore } from '../../dist/index.js';

const [url, to, ms] = process.argv.slice(2);
const store = await openStore({ url, sweepInterval: false });
process.stdout.write('R\n');
const started = Date.now();
let backups = 0;
let errors = 0;
while (Date.now() - started < Number(ms)) {
  for (const [op, call] of [
    ['backup', () => store.backup({ to })],
    ['prune', () => store.backups.prune({ keep: 2, dir: to })],
  ]) {
    try {
      const result = await call();
      if (op === 'backup') {
        backups++;
        process.stdout.write(`D ${result.id}\n`);
      }
    } catch (error) {
      errors++;
      process.stdout.write(`E ${error?.code} ${op}: ${String(error?.message).split('\n')[0]}\n`);
    }
  }
}
process.stdout.write(`X ${backups} ${errors}\n`);
await store.close();
