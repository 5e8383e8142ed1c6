import { type Command, Option } from 'commander';
import { Cli } from '../context.js';
import { formatCount } from '../output.js';
import { refuseDash, transferProgress } from './export.js';

interface ImportFlags {
  mode: 'merge' | 'replace';
}

/** `strata import <file>`: an export file into the store, checked whole first, then all or nothing. */
export function register(program: Command): void {
  program
    .command('import')
    .description('read an export file into the store: everything is checked first, then written all or nothing')
    .argument('<file>', 'a file written by `strata export` / store.export()')
    .addOption(
      new Option(
        '--mode <mode>',
        'merge: file records replace same-key ones, others stay; replace: namespaces and collections hold exactly the file',
      )
        .choices(['merge', 'replace'])
        .default('merge'),
    )
    .addHelpText(
      'after',
      `
A damaged or hostile file (bad JSON or gzip, wrong checksums or counts, "__proto__" keys,
keys or values Strata refuses) is refused with exit code 2 or 5 and the store unchanged.
An export of encrypted values needs the keyring it was written with (STRATA_KEYS or --keys-file).`,
    )
    .action(async (file: string, flags: ImportFlags, command: Command) => {
      const cli = Cli.of(command);
      refuseDash(file, 'import');
      const shown = transferProgress(cli, 'importing');
      const report = await cli.withStore('write', (store) =>
        store.import(file, { mode: flags.mode, onProgress: (p) => shown.onProgress(p) }),
      );
      shown.stop();
      if (cli.json) cli.data(report);
      else cli.info(`imported ${formatCount(report.records)} records (${report.mode}) from ${file}`);
    });
}
