import { progressCallback } from '../../progress-callback.js';
import { resolve } from 'node:path';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { checkName } from '../../codec/keys.js';
import { checkOptions } from '../../codec/options.js';
import { parseJson } from '../../codec/json.js';
import { parseSpec, readSpec, sameSpec, type CollectionSpec } from '../../collection-specs.js';
import type { Driver, StoredRecord } from '../../drivers/driver.js';
import { StrataError } from '../../errors.js';
import { sqliteLocation } from '../../drivers/sqlite.js';
import { removeStaleScratch } from '../backup-scratch.js';
import { badFile, ENCRYPTED_SPACE_NAME, SPECS_SPACE_NAME, type Manifest, type TransferRecord } from './format.js';
import { Transcoder } from './transcode.js';
import { readExport, replayExport, type ExportSummary } from './validate.js';
import type { TransferContext, TransferProgress } from './context.js';

/** The atomic, streamed bulk write import commits with (`loadRecords` of src/ops/image.ts). */
export type LoadRecords = (
  driver: Driver,
  source: AsyncIterable<StoredRecord & { space: string }>,
  options: { mode: 'merge' | 'replace'; mergePrefix?: string },
) => Promise<unknown>;

export interface ImportOptions {
  /**
   * `merge`: records of the file replace same-key records, others stay. `replace`: afterwards
   * every kv namespace and collection holds exactly what the file holds. @default 'merge'
   */
  mode?: 'merge' | 'replace';
  /** Called during the validation pass and the write. */
  onProgress?: (progress: TransferProgress) => void;
}

export interface ImportReport {
  mode: 'merge' | 'replace';
  /** Records written (records that expired since the export are left out). */
  records: number;
  /** Records per space in the file. */
  spaces: Record<string, number>;
  values: 'stored' | 'decrypted';
}

const PROGRESS_EVERY = 5000;

interface Plan {
  summary: ExportSummary;
  collections: Map<string, CollectionSpec>;
  /** Spaces records are written to. */
  spaces: Set<string>;
  transcoder?: Transcoder | undefined;
  written: number;
}

const newPlan = (): Plan => ({
  collections: new Map(),
  spaces: new Set(),
  written: 0,
  summary: undefined as unknown as ExportSummary,
});

/** One pass over the file: everything checked, each record turned into what the target stores, in batches. */
async function* pass(
  ctx: TransferContext,
  path: string,
  mode: 'merge' | 'replace',
  now: number,
  plan: Plan,
  onRecord: (done: number) => void,
  checked?: ExportSummary,
): AsyncGenerator<TransferRecord[]> {
  let transcoder: Transcoder | undefined;
  const onManifest = (manifest: Manifest): void => {
    transcoder = new Transcoder(ctx.crypto, manifest.values);
  };
  // The second pass replays the file the first one checked (same bytes, proven by its sha256).
  if (checked !== undefined) onManifest(checked.manifest);
  let prevSpace = '';
  const batches: AsyncGenerator<TransferRecord[], ExportSummary | void> =
    checked === undefined ? readExport(path, onManifest) : replayExport(path, checked.fileSha256);
  let done = 0;
  /** Each collection's key field: as the file declares it, else this process, else the target remembers, else `id`. */
  const keyFields = new Map<string, string>();
  const keyFieldOf = async (name: string): Promise<string> => {
    let field = keyFields.get(name);
    if (field === undefined) {
      field =
        plan.collections.get(name)?.key ??
        ctx.declaredSpec(name)?.key ??
        // Absent is null; a damaged declaration (CORRUPT) or a failing store propagates: guessing
        // `id` would check (and import) the documents against the wrong key field.
        (await readSpec(ctx.driver, name, now))?.key ??
        'id';
      keyFields.set(name, field);
    }
    return field;
  };
  for (;;) {
    const next = await batches.next();
    if (next.done === true) {
      plan.summary = next.value ?? checked!;
      plan.transcoder = transcoder;
      return;
    }
    const out: TransferRecord[] = [];
    for (const record of next.value) {
      done++;
      onRecord(done);
      let plain: string;
      try {
        plain = transcoder!.plain(record);
      } catch (error) {
        throw withLine(error, record);
      }
      if (checked !== undefined) {
        // Checked in the first pass.
      } else if (record.space === SPECS_SPACE_NAME)
        plan.collections.set(record.key, await checkSpec(ctx, record, plain, mode, now));
      else if (record.space.startsWith('c.')) {
        const name = record.space.slice(2);
        const doc = parseJson(plain) as Record<string, unknown>;
        checkKeyField(record, doc, await keyFieldOf(name));
        const schema = ctx.schemaOf(name);
        if (schema !== undefined) await checkSchema(schema, record, doc);
      }
      let stored: string | null;
      try {
        stored = transcoder!.stored(record, plain);
      } catch (error) {
        throw withLine(error, record);
      }
      // Expired since the export: absent, so not written (a same-key record of the target stays in a merge).
      if (stored === null || (record.expiresAt !== null && record.expiresAt <= now)) continue;
      plan.written++;
      if (record.space !== prevSpace) {
        prevSpace = record.space;
        plan.spaces.add(record.space);
      }
      out.push({
        space: record.space,
        key: record.key,
        value: stored,
        version: record.version,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
        expiresAt: record.expiresAt,
      });
    }
    yield out;
  }
}

/** The records one by one, then the encryption declarations the target must remember with them. */
async function* flat(
  batches: AsyncIterable<TransferRecord[]>,
  plan: Plan,
  remembered: ReadonlySet<string>,
  now: number,
): AsyncGenerator<TransferRecord> {
  for await (const batch of batches) yield* batch;
  yield* plan.transcoder?.declarations(plan.spaces, remembered, now) ?? [];
}

function withLine(error: unknown, record: TransferRecord): StrataError {
  if (!(error instanceof StrataError))
    return badFile('CORRUPT', 0, `record "${record.key}" in ${record.space} cannot be read`, { cause: error });
  const details = error.details ?? {};
  (error as { details: Record<string, unknown> }).details = {
    ...details,
    space: record.space,
    key: record.key,
    line: record.line,
  };
  return error;
}

async function checkSpec(
  ctx: TransferContext,
  record: TransferRecord,
  text: string,
  mode: string,
  now: number,
): Promise<CollectionSpec> {
  // Named like the c.<name> space headers (BAD_INPUT there too): a declaration of a name no
  // collection can have would be written by the load and refused only when read back.
  try {
    checkName(record.key, 'collection');
  } catch (cause) {
    throw badFile(
      'BAD_INPUT',
      record.line ?? 0,
      `a collection declaration is keyed by ${JSON.stringify(record.key)}, not a collection name`,
      {
        cause,
        details: { space: record.space, key: record.key },
      },
    );
  }
  let spec: CollectionSpec;
  try {
    // Every check the live store.collection(name, options) makes, before anything is written:
    // a declaration it refuses, once remembered, would make every later call on the collection
    // throw (and on sqlite its index paths were compiled only after the load had committed).
    spec = parseSpec(record.key, text);
  } catch (cause) {
    // A declaration is an internal record Strata writes from a declaration it accepted: one
    // that is not (a path, key field or ttl the live call refuses) is damage, as for meta.crypto.
    const reason = (cause as StrataError).details?.reason;
    throw badFile(
      'CORRUPT',
      record.line ?? 0,
      `the declaration of collection "${record.key}" is damaged${typeof reason === 'string' ? `: ${reason}` : ''}`,
      { cause, details: { space: record.space, key: record.key } },
    );
  }
  // A merge keeps the target's documents, so they must agree with the file's declaration: a
  // remembered one that is damaged (CORRUPT) cannot be compared and refuses the import.
  const declared = ctx.declaredSpec(record.key) ?? (mode === 'merge' ? await readSpec(ctx.driver, record.key, now) : null);
  if (declared !== null && !sameSpec(declared, spec)) {
    throw new StrataError(
      'BAD_INPUT',
      `store.import: collection "${record.key}" is declared with another key, indexes, timestamps or ttl here than in the export`,
      {
        op: 'store.import',
        hint: 'import into a store (or process) that declares it the same way, or use mode "replace" when only the store remembers the other declaration',
        details: { collection: record.key, here: declared, export: spec },
      },
    );
  }
  return spec;
}

/**
 * A document's key field holds its key (a string, or a number whose text is the key): what
 * every collection write makes. A file whose documents say otherwise is refused, or the
 * target would hold documents that `get` finds under one key and `update` refuses.
 */
function checkKeyField(record: TransferRecord, doc: Record<string, unknown>, field: string): void {
  const held = Object.hasOwn(doc, field) ? doc[field] : undefined;
  if ((typeof held === 'string' || (typeof held === 'number' && Number.isFinite(held))) && String(held) === record.key) return;
  throw badFile(
    'BAD_INPUT',
    record.line ?? 0,
    `document "${record.key}" in ${record.space} holds ${held === undefined ? 'nothing' : (JSON.stringify(held) ?? String(held)).slice(0, 100)} in its key field "${field}", not its key`,
    { details: { space: record.space, key: record.key, field } },
  );
}

async function checkSchema(schema: StandardSchemaV1, record: TransferRecord, doc: unknown): Promise<void> {
  const result = await schema['~standard'].validate(doc);
  if (result.issues === undefined) return;
  const issues = result.issues.map((i) => ({
    path: (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.'),
    message: i.message,
  }));
  throw new StrataError(
    'VALIDATION_FAILED',
    `store.import: document "${record.key}" in ${record.space} does not match the collection's schema: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    {
      op: 'store.import',
      hint: 'nothing was imported; fix the document in the source and export again',
      details: { space: record.space, key: record.key, issues },
    },
  );
}

/**
 * A replace leaves every kv namespace and collection holding exactly the file, and merges the
 * store's own `meta.*` spaces (its encryption record, schedules, journal, declarations the
 * file does not make; the file's declarations replace same-name ones). The driver decides
 * that inside the load's atomic step: copied in from a read made before it, the journal
 * entries other processes commit while the file streams in would be lost.
 */
const KEPT_PREFIX = 'meta.';

/**
 * store.import: a first pass reads the whole file and checks everything (gzip, every line,
 * counts and checksums, ciphertexts, declarations, schemas) without writing; then a second
 * pass streams the same checks into `load`, which commits all or nothing. See docs/export-format.md.
 */
export async function importStore(
  ctx: TransferContext,
  path: unknown,
  options: ImportOptions,
  load: LoadRecords,
): Promise<ImportReport> {
  checkOptions(options, ['mode', 'onProgress'], 'store.import');
  if (typeof path !== 'string' || path.length === 0) {
    throw new StrataError('BAD_INPUT', 'store.import: the path must be a non-empty string', {
      op: 'store.import',
      hint: "e.g. store.import('app-export.strata', { mode: 'merge' }) (CLI: `strata import app-export.strata`)",
    });
  }
  const mode = options.mode === undefined ? 'merge' : options.mode;
  if (mode !== 'merge' && mode !== 'replace') {
    throw new StrataError('BAD_INPUT', `store.import: mode must be 'merge' or 'replace', got ${JSON.stringify(mode)}`, {
      op: 'store.import',
      hint: "mode: 'merge' keeps records the file does not hold; 'replace' empties them",
    });
  }
  const file = resolve(path);
  const now = ctx.now();
  const progress = progressCallback<TransferProgress>(options.onProgress, 'store.import');
  const report = (phase: TransferProgress['phase'], total: number | null) => (done: number) => {
    if (progress !== undefined && done % PROGRESS_EVERY === 0) progress({ phase, records: done, total });
  };
  const first = newPlan();
  for await (const _ of pass(ctx, file, mode, now, first, report('validate', null))) {
    // Validation only: nothing is written in this pass.
  }
  const total = first.summary.records;
  progress?.({ phase: 'validate', records: total, total });
  const second = newPlan();
  // The file is read again (it is never held in memory) and checked again as it streams: one
  // changed in between fails the load, which then writes nothing.
  const remembered = new Set((await ctx.raw.scan(ENCRYPTED_SPACE_NAME, { keysOnly: true }, now)).map((r) => r.key));
  const records = flat(pass(ctx, file, mode, now, second, report('write', total), first.summary), second, remembered, now);
  // The staging files of an import killed earlier (its process is gone) are removed first.
  const location = sqliteLocation(ctx.raw);
  if (location !== null) removeStaleScratch(location);
  await load(ctx.raw, records, mode === 'replace' ? { mode, mergePrefix: KEPT_PREFIX } : { mode });
  progress?.({ phase: 'write', records: total, total });
  await ctx.refresh([...first.collections.keys()]);
  for (const [name, spec] of first.collections) await ctx.driver.ensureSpace(`c.${name}`, { indexes: spec.indexes });
  const spaces: Record<string, number> = {};
  for (const [space, totals] of Object.entries(second.summary.spaces)) spaces[space] = totals.records;
  return { mode, records: second.written, spaces, values: second.summary.manifest.values };
}
