#!/usr/bin/env node
import { CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { debugWanted, reportError } from './report.js';
import { buildProgram, helpHint, usageError } from './program.js';

/** Runs the CLI and returns the exit code; never calls process.exit, so output is flushed. */
async function main(argv: readonly string[] = process.argv): Promise<number> {
  const debug = debugWanted(argv);
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; a command without its subcommand has
      // had its help printed on stderr; every other parse failure is reported as BAD_INPUT.
      if (error.exitCode === 0) return EXIT.OK;
      if (error.code === 'commander.help') return EXIT.USAGE;
      return reportError(usageError(program, error), debug);
    }
    // README: every error prints with a hint. A refusal that brings none (from the library,
    // say) is still a usage error of this command, so it points at the command's help.
    return reportError(error, debug, helpHint(program));
  }
}

// `strata ... | head` closes stdout early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(EXIT.OK);
  throw error;
});

// Ctrl-C. A command that stops gracefully (`strata demo`) adds a SIGINT listener of its own
// and this one leaves the signal to it. Any other command stops at once with 130, as the
// README says; a write in progress is whole or absent, as after a crash (both backends
// commit atomically), and exit handlers run (a file: store's lock is released).
process.on('SIGINT', () => {
  if (process.listenerCount('SIGINT') > 1) return;
  process.stderr.write('interrupted (Ctrl-C)\n');
  process.exit(EXIT.INTERRUPTED);
});

process.exitCode = await main();
