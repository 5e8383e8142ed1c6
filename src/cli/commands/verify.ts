import type { Command } from 'commander';
import { spaceKind } from '../../context.js';
import type { VerifyReport } from '../../drivers/driver.js';
import { progressTo } from '../progress.js';
import { StrataError } from '../../errors.js';
import { Cli } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { bareMessage } from '../report.js';
import { formatCount } from '../output.js';
import { endedBySignal } from '../ctrl-c.js';

/** `strata verify`: the backend's integrity check; exit 5 when anything is wrong. */
export function register(program: Command): void {
  program
    .command('verify')
    .description('check the whole store for corruption (exit 5 when it finds issues)')
    .addHelpText(
      'after',
      `
Prints each issue (code, space, key, message) and exits 5 when there are any; a store that
cannot even be opened reports CORRUPT and exits 5 too. --json prints { ok, checked, issues }.`,
    )
    .action(async (_options: unknown, command: Command) => {
      const cli = Cli.of(command);
      const report = await cli
        .withStore('read', async (store) => {
          // A bar per phase (records checked, then ciphertexts opened); plain lines when not a terminal.
          const bar = progressTo(cli);
          const check = (): Promise<VerifyReport> =>
            store.verify({
              onProgress: (p) => bar.update(p.phase === 'storage' ? 'checking' : 'decrypting', p.checked, p.total),
            });
          try {
            // sqlite: a read-only check, stopped at once by Ctrl-C (see endedBySignal). Waiting
            // for a lock (file:) and the open itself keep the listener: they exit 130.
            return await (/^sqlite:/i.test(cli.url) ? endedBySignal(check) : check());
          } finally {
            bar.stop();
          }
        })
        .catch(unopenable);
      if (cli.json) cli.data(report);
      else if (report.ok) cli.info(`ok: ${formatCount(report.checked)} records checked, no issues`);
      else {
        cli.out(`${formatCount(report.issues.length)} issue(s) in ${formatCount(report.checked)} records checked:`);
        for (const issue of report.issues) {
          const space = issue.space === undefined ? null : spaceKind(issue.space);
          const label = space === null ? issue.space : `${space.kind} ${space.name}`;
          const where = [label, issue.key].filter((p) => p !== undefined).join(' / ');
          cli.out(`  ${issue.code}${where === '' ? '' : ` ${where}`}: ${issue.message}`);
        }
      }
      if (!report.ok) process.exitCode = EXIT.CORRUPT;
    });
}

/** A store too damaged to open is a verify finding (exit 5 with a report), not a crash. */
function unopenable(error: unknown): VerifyReport {
  if (StrataError.is(error) && (error.code === 'CORRUPT' || error.code === 'INTEGRITY')) {
    return { ok: false, checked: 0, issues: [{ code: error.code, message: `cannot open the store: ${bareMessage(error)}` }] };
  }
  throw error;
}
