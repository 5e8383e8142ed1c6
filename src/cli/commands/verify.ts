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
cannot even be opened reports CORRUPT and exits 5 too. With the keyring (--keys-file or
$STRATA_KEYS) every ciphertext is opened; without it the records of encrypted namespaces and
collections have their checksums checked only, and verify says how many it did not open.
--json prints { ok, checked, issues, notOpened: { records, spaces: [{ kind, name, records }] } }
(notOpened is left out when the store cannot be opened).`,
    )
    .action(async (_options: unknown, command: Command) => {
      const cli = Cli.of(command);
      const report: Omit<VerifyReport, 'notOpened'> & { notOpened?: NotOpened } = await cli
        .withStore('read', async (store) => {
          // A bar per phase (records checked, then ciphertexts opened); plain lines when not a terminal.
          const bar = progressTo(cli);
          const check = (): Promise<VerifyReport> =>
            store.verify({
              onProgress: (p) => bar.update(p.phase === 'storage' ? 'checking' : 'decrypting', p.checked, p.total),
            });
          let checked: VerifyReport;
          try {
            // sqlite: a read-only check, stopped at once by Ctrl-C (see endedBySignal). Waiting
            // for a lock (file:) and the open itself keep the listener: they exit 130.
            checked = await (/^sqlite:/i.test(cli.url) ? endedBySignal(check) : check());
          } finally {
            bar.stop();
          }
          return { ...checked, notOpened: named(checked.notOpened) };
        })
        .catch(unopenable);
      if (cli.json) cli.data(report);
      else if (report.ok) {
        cli.info(`ok: ${formatCount(report.checked)} records checked, no issues`);
        if (report.notOpened !== undefined && report.notOpened.records > 0) cli.info(notOpenedLine(report.notOpened));
      } else {
        cli.out(`${formatCount(report.issues.length)} issue(s) in ${formatCount(report.checked)} records checked:`);
        for (const issue of report.issues) {
          const space = issue.space === undefined ? null : spaceKind(issue.space);
          const label = space === null ? issue.space : `${space.kind} ${space.name}`;
          const where = [label, issue.key].filter((p) => p !== undefined).join(' / ');
          cli.out(`  ${issue.code}${where === '' ? '' : ` ${where}`}: ${issue.message}`);
        }
        if (report.notOpened !== undefined && report.notOpened.records > 0) cli.out(notOpenedLine(report.notOpened));
      }
      if (!report.ok) process.exitCode = EXIT.CORRUPT;
    });
}

/** The live records of encrypted spaces a verify without the keyring could not open. */
interface NotOpened {
  records: number;
  spaces: Array<{ kind: 'kv' | 'collection'; name: string; records: number }>;
}

/** The report's `notOpened` with kv / collection names (none: a keyring, or nothing encrypted). */
function named(notOpened: VerifyReport['notOpened']): NotOpened {
  const out: NotOpened = { records: notOpened?.records ?? 0, spaces: [] };
  for (const { space, records } of notOpened?.spaces ?? []) {
    const kind = spaceKind(space);
    if (kind !== null) out.spaces.push({ ...kind, records });
  }
  // Namespaces first, then collections, as `strata stats` lists them.
  out.spaces.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'kv' ? -1 : 1));
  return out;
}

/** `3 encrypted record(s) not opened (kv auth.tokens: 2, collection users: 1): ...`, at most 5 spaces named. */
function notOpenedLine({ records, spaces }: NotOpened): string {
  const named = spaces.slice(0, 5).map((s) => `${s.kind} ${s.name}: ${formatCount(s.records)}`);
  if (spaces.length > 5) named.push(`${spaces.length - 5} more`);
  return (
    `${formatCount(records)} encrypted record(s) not opened (${named.join(', ')}): without the keyring their ` +
    'checksums were checked, not their ciphertexts; pass --keys-file <path> or set STRATA_KEYS to open them'
  );
}

/** A store too damaged to open is a verify finding (exit 5 with a report), not a crash. */
function unopenable(error: unknown): Omit<VerifyReport, 'notOpened'> {
  if (StrataError.is(error) && (error.code === 'CORRUPT' || error.code === 'INTEGRITY')) {
    return { ok: false, checked: 0, issues: [{ code: error.code, message: `cannot open the store: ${bareMessage(error)}` }] };
  }
  throw error;
}
