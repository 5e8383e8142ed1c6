import type { Command } from 'commander';
import { StrataError } from '../../errors.js';
import { Cli } from '../context.js';
import { formatCount } from '../output.js';
import { progress, type Progress } from '../progress.js';
import type { TransferProgress } from '../../ops/transfer/context.js';

/**
 * Progress of an export or import for a person: a bar on a terminal, otherwise a plain line
 * at each tenth of a phase whose total is known (every 100,000 records when it is not) and at
 * its end; nothing with --json or --quiet.
 *
 * An export's progress counts the records of namespaces and collections only: the internal
 * ones (collection declarations, the encryption record) go into the file first, uncounted. So
 * its last line is not the progress' own ("exporting 4 of 4 records" where the file, and the
 * result line, held 5) but `end(records)`, with the file's count from the export's report.
 */
export function transferProgress(
  cli: Cli,
  verb: string,
): { onProgress(p: TransferProgress): void; stop(): void; end(records: number): void } {
  let bar: Progress | undefined;
  let phase = '';
  let lastLine = 0;
  const tty = process.stderr.isTTY === true;
  const exporting = verb === 'exporting';
  return {
    onProgress(p) {
      if (cli.json || cli.quiet) return;
      // An export learns its total at its end only: that line comes from end().
      if (exporting && p.total !== null) return;
      const label = p.phase === 'validate' ? 'checking' : verb;
      if (phase !== p.phase) {
        bar?.stop();
        bar = undefined;
        phase = p.phase;
        lastLine = 0;
      }
      if (tty) {
        if (p.total === null) return;
        bar ??= progress(cli, label, p.total);
        bar.advance(p.records - lastLine);
        lastLine = p.records;
        return;
      }
      // At each tenth when the total is known (import's write phase); an export learns its
      // total only at the end, so it reports every 100,000 records instead.
      const step = p.total === null ? 100_000 : Math.max(1, Math.ceil(p.total / 10));
      if (p.records - lastLine >= step || p.records === p.total) {
        lastLine = p.records;
        cli.note(`${label} ${formatCount(p.records)}${p.total === null ? '' : ` of ${formatCount(p.total)}`} records`);
      }
    },
    stop() {
      bar?.stop();
    },
    end(records) {
      if (cli.json || cli.quiet || tty) return;
      cli.note(`${verb} ${formatCount(records)} of ${formatCount(records)} records`);
    },
  };
}

/**
 * `-` is not stdin or stdout here: import reads its file twice (checked whole, then written)
 * and export renames a finished file into place, so both need a real file.
 */
export function refuseDash(file: string, command: 'export' | 'import'): void {
  if (file !== '-') return;
  throw new StrataError(
    'BAD_INPUT',
    command === 'export'
      ? 'strata export writes a file (renamed into place when complete), not stdout: "-" is not taken'
      : 'strata import reads its file twice (checked whole, then written), so not stdin: "-" is not taken',
    {
      op: `cli.${command}`,
      hint:
        command === 'export'
          ? 'give a file path, e.g. `strata export app.strata`'
          : 'save the export to a file first, then `strata import app.strata`',
    },
  );
}

interface ExportFlags {
  decrypt?: boolean;
}

/** `strata export <file>`: the whole store as one portable file. */
export function register(program: Command): void {
  program
    .command('export')
    .description('write every kv namespace and collection to one portable file (gzip NDJSON, checksummed)')
    .argument('<file>', 'the export file to write (replaced atomically if it exists)')
    .option('--decrypt', 'write encrypted values decrypted (needs the keyring; the file then holds plain text)')
    .addHelpText(
      'after',
      `
The file holds values, versions, timestamps and expiry of every record, and the collection
declarations. Encrypted values stay encrypted (import needs the same keyring) unless
--decrypt. Read it back into any store with \`strata import <file>\`. Format: docs/export-format.md.`,
    )
    .action(async (file: string, flags: ExportFlags, command: Command) => {
      const cli = Cli.of(command);
      refuseDash(file, 'export');
      const shown = transferProgress(cli, 'exporting');
      const report = await cli.withStore('read', (store) =>
        store.export(file, { decrypt: flags.decrypt === true, onProgress: (p) => shown.onProgress(p) }),
      );
      shown.stop();
      shown.end(report.records);
      if (cli.json) cli.data(report);
      else {
        const spaces = Object.keys(report.spaces).filter((s) => !s.startsWith('meta.')).length;
        cli.info(
          `exported ${formatCount(report.records)} records (${spaces} namespaces and collections, values ${report.values}) to ${report.path} (${formatCount(report.bytes)} bytes)`,
        );
      }
    });
}
