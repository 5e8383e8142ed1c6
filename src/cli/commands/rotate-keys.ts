import type { Command } from 'commander';
import { Cli } from '../context.js';
import { formatCount } from '../output.js';
import { progressTo } from '../progress.js';
import { StrataError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { intOption } from '../args.js';

interface RotateFlags {
  batchSize: number;
  protectExisting?: boolean;
}

/** `strata rotate-keys`: re-encrypt everything under the primary key, then say which keys can go. */
export function register(program: Command): void {
  program
    .command('rotate-keys')
    .description('re-encrypt and re-sign every record under the primary (first) key; resumable')
    .option('--batch-size <n>', 'records per atomic batch', intOption('--batch-size', { min: 1 }), 200)
    .option('--protect-existing', 'also encrypt values stored in plain text in encrypted spaces, and sign unsigned records')
    .addHelpText(
      'after',
      `
Put the new key first in STRATA_KEYS (or --keys-file), keep the old ones after it, and run
this. It is safe while the app runs and can be stopped at any time: a rerun skips what is
done. When it reports an old key as retired, that key can be removed from the keyring.
Exits 5 when some records could not be opened (they are listed and left as they are).`,
    )
    .action(async (flags: RotateFlags, command: Command) => {
      const cli = Cli.of(command);
      if (cli.encryption === undefined) {
        throw new StrataError('BAD_INPUT', 'rotate-keys needs the keyring', {
          hint: 'set STRATA_KEYS="<new id>:<base64>,<old id>:<base64>" or pass --keys-file',
        });
      }
      const report = await cli.withStore('read', async (store) => {
        const bar = progressTo(cli);
        const result = await store.rotateKeys({
          batchSize: flags.batchSize,
          protectExisting: flags.protectExisting === true,
          onProgress: (p) => bar.update('rotating', p.checked, p.total),
        });
        bar.stop();
        return result;
      });
      if (cli.json) cli.data(report);
      else {
        cli.info(`${formatCount(report.rewritten)} of ${formatCount(report.checked)} records re-encrypted`);
        const inUse = Object.entries(report.keysInUse).map(([id, n]) => `${id} (${formatCount(n)})`);
        cli.out(`keys in use: ${inUse.length === 0 ? 'none' : inUse.join(', ')}`);
        if (report.retired.length > 0) cli.out(`retired (no longer needed, can leave the keyring): ${report.retired.join(', ')}`);
        for (const f of report.failed) cli.out(`  ${f.code} ${f.space} / ${f.key}: ${f.message}`);
      }
      if (report.failed.length > 0) process.exitCode = EXIT.CORRUPT;
    });
}
