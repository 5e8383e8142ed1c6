import { bareMessage, StrataError } from '../errors.js';
import { EXIT, exitCodeFor, type ExitCode } from './exit-codes.js';
import { redactUrl } from '../observe/logger.js';

/** True when stack traces were asked for (`--debug` or STRATA_DEBUG=1). */
export function debugWanted(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): boolean {
  return argv.includes('--debug') || (env.STRATA_DEBUG !== undefined && env.STRATA_DEBUG !== '' && env.STRATA_DEBUG !== '0');
}

// The message without its ` (hint)`, so the hint prints once (commands import it from here).
export { bareMessage };

function causes(error: unknown): string[] {
  const out: string[] = [];
  let cause = (error as { cause?: unknown }).cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    out.push(cause instanceof Error ? (cause.stack ?? cause.message) : String(cause));
    cause = (cause as { cause?: unknown }).cause;
  }
  return out;
}

/**
 * Prints a failure on stderr and returns the exit code. A StrataError prints as
 * `error <CODE>: message` plus its hint (for a BAD_INPUT without one, `usageHint`); a stack
 * only in debug mode.
 */
export function reportError(error: unknown, debug: boolean, usageHint?: string): ExitCode {
  if (error instanceof StrataError) {
    const lines = [`error ${error.code}: ${bareMessage(error)}`];
    const hint = error.hint ?? (error.code === 'BAD_INPUT' ? usageHint : undefined);
    if (hint !== undefined) lines.push(`hint: ${hint}`);
    if (debug) lines.push(error.stack ?? '', ...causes(error).map((c) => `caused by: ${c}`));
    process.stderr.write(`${redactUrl(lines.join('\n'))}\n`);
    return exitCodeFor(error.code);
  }
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`error: ${message}`];
  if (debug) lines.push(error instanceof Error ? (error.stack ?? '') : '', ...causes(error).map((c) => `caused by: ${c}`));
  else lines.push('hint: this is unexpected; run again with --debug (or STRATA_DEBUG=1) for the stack trace and report it');
  process.stderr.write(`${redactUrl(lines.join('\n'))}\n`);
  return EXIT.FAILURE;
}
