import type { Command } from 'commander';
import { StrataError } from '../../errors.js';
import type { Duration } from '../../codec/duration.js';
import { Cli, openCollection } from '../context.js';
import { intOption, parseObjectArg, parseValueArg, ttlOption } from '../args.js';
import { formatExpiry } from '../output.js';
import { rehearsed } from '../rehearse.js';
import { collectionSpace, kvSpace } from '../../context.js';

interface SetOptions {
  collection?: boolean;
  string?: boolean;
  ttl?: Duration;
  ifVersion?: number;
  keyField?: string;
  patch?: boolean;
}

/** `strata set <name> <key> <value>`: writes a kv value, or with -c a document. */
export function register(program: Command): void {
  program
    .command('set')
    .description('write a value under a key (kv), or a document (-c)')
    .argument('<name>', 'kv namespace (or collection with -c); created on first write')
    .argument('<key>', 'key (or document key with -c)')
    .argument('<value>', 'JSON value (a JSON object with -c)')
    .option('-c, --collection', '<name> is a collection')
    .option('--string', 'store <value> as a plain string instead of parsing JSON')
    .option('--ttl <duration>', 'kv: expire after 500ms, 30s, 10m, 12h, 7d, 2w or ms', ttlOption)
    .option(
      '--if-version <n>',
      'write only if the stored version is n (0: only if absent), else CONFLICT',
      intOption('--if-version', { example: 3 }),
    )
    .option('--key-field <field>', "-c: the collection's key field (remembered by the store; default id for a new one)")
    .option('--patch', '-c: merge <value> into the stored document (NOT_FOUND when absent)')
    .addHelpText(
      'after',
      `
Values are JSON: 42, true, '"dark"', '{"theme":"dark"}'. Bare text is refused (exit 2)
unless --string is given. Prints the new version; --json prints {key, version, expiresAt}.

Examples:
  strata set app settings '{"theme":"dark","autoMerge":true}'
  strata set auth accessToken abc123 --string --ttl 1h
  strata set app counter 5 --if-version 3
  strata set -c deployments rec-9 '{"status":"failed"}'
  strata set -c deployments rec-9 '{"status":"success"}' --patch --if-version 1`,
    )
    .action(async (name: string, key: string, text: string, options: SetOptions, command: Command) => {
      const cli = Cli.of(command);
      if (!options.collection && (options.patch || options.keyField !== undefined)) {
        throw new StrataError('BAD_INPUT', '--patch and --key-field apply to collections only', { hint: 'add -c' });
      }
      if (options.collection && options.ttl !== undefined) {
        throw new StrataError('BAD_INPUT', '--ttl applies to kv keys only', {
          // The option is the API's alone: the CLI has none that declares a collection's ttl.
          hint: "documents expire by their collection's ttl, declared in code with store.collection(name, { ttl: '1h' }) (the CLI has no option for it); once the store remembers it, set -c applies it",
        });
      }
      if (options.collection && options.string) {
        throw new StrataError('BAD_INPUT', '--string applies to kv values only', {
          hint: 'a document is a JSON object: drop --string and quote it, e.g. \'{"note":"text"}\'',
        });
      }
      const value = options.collection ? parseObjectArg(text, 'the document') : parseValueArg(text, options.string ?? false);
      await cli.withStore('write', async (store) => {
        let result: { key: string; version: number; expiresAt: Date | null };
        // A write that would create the namespace or declare the collection is tried on a
        // scratch store first: one refused leaves the store as it was (see rehearsed).
        if (!options.collection) {
          result = await rehearsed(store, { space: kvSpace(name), key, declares: false }, async (target) => {
            const entry = await target.kv(name).set(key, value, { ttl: options.ttl, ifVersion: options.ifVersion });
            return { key: entry.key, version: entry.version, expiresAt: entry.expiresAt };
          });
        } else {
          const {
            docs,
            key: field,
            options: declared,
            remembered,
          } = await openCollection(store, name, 'write', options.keyField);
          result = await rehearsed(store, { space: collectionSpace(name), key, declares: !remembered }, (target) =>
            writeDocument(
              target === store ? docs : target.collection(name, declared),
              field,
              key,
              value as Record<string, unknown>,
              options,
            ),
          );
        }
        if (cli.json) return cli.data(result);
        const expiry = result.expiresAt === null ? '' : `, expires ${formatExpiry(result.expiresAt)}`;
        cli.info(`set ${name}/${result.key} (version ${result.version}${expiry})`);
      });
    });
}

interface DocHandle {
  insert(doc: Record<string, unknown>): Promise<unknown>;
  set(id: string, doc: Record<string, unknown>): Promise<unknown>;
  update(id: string, patch: Record<string, unknown>, options: { ifVersion?: number }): Promise<unknown>;
  getEntry(id: string): Promise<{ key: string; version: number; expiresAt: Date | null } | null>;
}

async function writeDocument(docs: DocHandle, field: string, key: string, doc: Record<string, unknown>, options: SetOptions) {
  if (options.patch) await docs.update(key, doc, options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion });
  else if (options.ifVersion === 0) {
    if (doc[field] !== undefined && String(doc[field]) !== key) {
      throw new StrataError('BAD_INPUT', `the document's "${field}" is ${JSON.stringify(doc[field])}, not "${key}"`, {
        hint: `leave "${field}" out of the document (it is set from <key>), or give the same key`,
      });
    }
    await docs.insert({ ...doc, [field]: doc[field] ?? key });
  } else if (options.ifVersion !== undefined) {
    throw new StrataError('BAD_INPUT', 'for documents --if-version n > 0 needs --patch', {
      hint: 'use --if-version 0 to insert only when absent, or --patch --if-version n to update a known version',
    });
  } else await docs.set(key, doc);
  const entry = await docs.getEntry(key);
  if (entry === null) throw new StrataError('NOT_FOUND', `document "${key}" vanished right after the write`);
  return { key: entry.key, version: entry.version, expiresAt: entry.expiresAt };
}
