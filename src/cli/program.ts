import { readFileSync } from 'node:fs';
import { Command, type CommanderError } from 'commander';
import { StrataError } from '../errors.js';
import { DEFAULT_URL } from '../store.js';
import { EXIT_CODES_HELP } from './exit-codes.js';
import * as get from './commands/get.js';
import * as set from './commands/set.js';
import * as del from './commands/del.js';
import * as list from './commands/list.js';
import * as query from './commands/query.js';
import * as stats from './commands/stats.js';
import * as verify from './commands/verify.js';
import * as demo from './commands/demo.js';
import * as rotateKeys from './commands/rotate-keys.js';
import * as migrate from './commands/migrate.js';
import * as backup from './commands/backup.js';
import * as restore from './commands/restore.js';
import * as exportCommand from './commands/export.js';
import * as importCommand from './commands/import.js';
import * as prune from './commands/prune.js';

/** Every command, one file each under `commands/`, in the order `--help` lists them. */
const COMMANDS: ReadonlyArray<{ register(program: Command): void }> = [
  get,
  set,
  del,
  list,
  query,
  stats,
  verify,
  rotateKeys,
  migrate,
  backup,
  restore,
  exportCommand,
  importCommand,
  prune,
  demo,
];

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The `strata` program. Settings are made before the commands are added, so they inherit
 * them. Kept apart from main.ts (which runs it) so tests can read the commands and options
 * that really exist, e.g. to check that every hint names one.
 */
export function buildProgram(): Command {
  const program = new Command('strata')
    .description('Inspect and edit a Strata store: kv namespaces, collections, stats and integrity.')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', `store URL: sqlite:path/app.db, file:path/dir, memory: (default: $STRATA_URL, else ${DEFAULT_URL})`)
    .option('--json', 'machine output: one JSON document on stdout')
    .option('-q, --quiet', 'no confirmations, notes or progress bars (data and errors still print)')
    .option('--debug', 'print stack traces on errors (also STRATA_DEBUG=1)')
    .option('--log-level <level>', "the store's structured logs (pino JSON) on stderr: error, warn, info or debug")
    .option(
      '--keys-file <path>',
      'the encryption keyring, "k2:<base64>,k1:<base64>", in a file only you can read (default: $STRATA_KEYS)',
    )
    .exitOverride()
    // Commander's own error line is not printed: main.ts prints the usage error as every
    // other error, `error BAD_INPUT: message` plus a hint (see usageError).
    .configureOutput({ outputError: () => {} })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      `
Environment:
  STRATA_URL    the store when --url is not given
  STRATA_KEYS   the encryption keyring "k2:<base64>,k1:<base64>" (first is primary)
  STRATA_DEBUG  1 prints stack traces on errors

Errors print on stderr as \`error <CODE>: message\` plus a hint.

${EXIT_CODES_HELP}`,
    );
  for (const command of COMMANDS) command.register(program);
  registerHelp(program);
  trackParsing(program);
  return program;
}

/**
 * `strata help [command...]`, in place of commander's own, which read one name only (`help
 * backup create` showed backup's help) and answered a name that is no command with the
 * general help and exit 2, but no error line or hint. Each name is looked for among the
 * subcommands of the one before (aliases too); the help of the last is printed on stdout.
 */
function registerHelp(program: Command): void {
  program
    .command('help')
    .argument('[command...]', 'a command, and a subcommand of it (e.g. backup create)')
    .description('display help for command')
    .helpOption(false)
    .action((names: string[]) => {
      let target = program;
      let path = 'strata';
      for (const name of names) {
        const sub = target.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (sub === undefined) {
          const known = target.commands.map((c) => c.name());
          throw new StrataError('BAD_INPUT', `unknown command ${JSON.stringify(name)}${path === 'strata' ? '' : ` of ${path}`}`, {
            hint:
              known.length === 0
                ? `\`${path}\` has no subcommands: see \`${path} --help\``
                : `commands: ${known.join(', ')}; see \`${path} --help\``,
            details: { command: name },
          });
        }
        target = sub;
        path = `${path} ${sub.name()}`;
      }
      target.outputHelp();
    });
}

/** The command each program is parsing, as `strata backup prune`, for the hint of a usage error. */
const parsing = new WeakMap<Command, string>();

/** Notes each subcommand as parsing reaches it (before its own options and arguments are read). */
function trackParsing(program: Command): void {
  const visit = (command: Command, path: string): void => {
    if (command.commands.length === 0) return;
    command.hook('preSubcommand', (_command, sub) => void parsing.set(program, `${path} ${sub.name()}`));
    for (const sub of command.commands) visit(sub, `${path} ${sub.name()}`);
  };
  visit(program, 'strata');
}

/** `see \`strata <command> --help\``: the hint of a usage error, and of any BAD_INPUT that has none. */
export function helpHint(program: Command): string {
  return `see \`${parsing.get(program) ?? 'strata'} --help\``;
}

/**
 * A parse failure of commander (unknown option or command, missing argument, a value outside
 * the choices) as the BAD_INPUT every other refusal is, with a hint naming the help of the
 * command that was being parsed.
 */
export function usageError(program: Command, error: CommanderError): StrataError {
  return new StrataError('BAD_INPUT', error.message.replace(/^error: /, ''), {
    hint: helpHint(program),
    details: { commander: error.code },
  });
}
