#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DEFAULT_URL } from '../store.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { debugWanted, reportError } from './report.js';
import * as get from './commands/get.js';
import * as set from './commands/set.js';
import * as del from './commands/del.js';
import * as list from './commands/list.js';
import * as query from './commands/query.js';
import * as stats from './commands/stats.js';
import * as verify from './commands/verify.js';
import * as demo from './commands/demo.js';

/** Every command, one file each under `commands/`, in the order `--help` lists them. */
const COMMANDS: ReadonlyArray<{ register(program: Command): void }> = [get, set, del, list, query, stats, verify, demo];

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The `strata` program. Settings are made before the commands are added, so they inherit them. */
function buildProgram(): Command {
  const program = new Command('strata')
    .description('Inspect and edit a Strata store: kv namespaces, collections, stats and integrity.')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', `store URL: sqlite:path/app.db, file:path/dir, memory: (default: $STRATA_URL, else ${DEFAULT_URL})`)
    .option('--json', 'machine output: one JSON document on stdout')
    .option('-q, --quiet', 'no confirmations, notes or progress bars (data and errors still print)')
    .option('--debug', 'print stack traces on errors (also STRATA_DEBUG=1)')
    .exitOverride()
    .showHelpAfterError('(see `strata --help`)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      `
Environment:
  STRATA_URL    the store when --url is not given
  STRATA_DEBUG  1 prints stack traces on errors

Errors print on stderr as \`error <CODE>: message\` plus a hint.

${EXIT_CODES_HELP}`,
    );
  for (const command of COMMANDS) command.register(program);
  return program;
}

/** Runs the CLI and returns the exit code; never calls process.exit, so output is flushed. */
async function main(argv: readonly string[] = process.argv): Promise<number> {
  const debug = debugWanted(argv);
  try {
    await buildProgram().parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; every other parse failure is a usage error.
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return reportError(error, debug);
  }
}

// `strata ... | head` closes stdout early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.OK);
  throw error;
});

process.exitCode = await main();
