import type { Driver, StoredRecord, WriteOp } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';

/**
 * The `_migrations` record: one record per applied migration (`applied:<name>`) and, while
 * a run is in progress, one run record (`run`). A meta space, so it never shows in names()
 * or stats(), and it is written through the same driver batches as the migrations' data.
 */
export const MIGRATIONS_SPACE = 'meta.migrations';
export const RUN_KEY = 'run';
const APPLIED = 'applied:';

export interface AppliedRecord {
  name: string;
  checksum: string;
  kind: 'function' | 'sql';
  /** Epoch ms. */
  startedAt: number;
  finishedAt: number;
  /** The run that applied it. */
  run: string;
}

/** Where a batched migration got to: the `call`-th `m.batches` of it, after document `after`. */
export interface Checkpoint {
  migration: string;
  call: number;
  after: string | null;
  done: number;
  /**
   * The checksum of the source whose batches committed so far: a run is resumed only by the
   * same source, never carried on by edited code (absent in checkpoints of earlier versions,
   * which are therefore restored, not resumed).
   */
  checksum?: string;
}

/** A run in progress. A run record found by the next run means its process died mid-run. */
export interface RunRecord {
  id: string;
  /** The restore point taken before the run (a backup id), `null` when none could be taken. */
  backup: string | null;
  startedAt: number;
  process: string;
  /**
   * The owner of the lease `backup` was taken under: the lease record in that backup is this
   * owner's, and a later run restoring it must not mistake it for a live holder (absent in
   * run records written before it was added).
   */
  lease?: string;
  /** The migration being applied, `null` between migrations. */
  current: string | null;
  checkpoint: Checkpoint | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function damaged(key: string, cause?: unknown): StrataError {
  return new StrataError('CORRUPT', `the _migrations record "${key}" (space ${MIGRATIONS_SPACE}) is damaged`, {
    op: 'store.migrate',
    cause,
    hint: 'run `strata verify`; restore the store from a backup taken before the damage',
    details: { space: MIGRATIONS_SPACE, key },
  });
}

function parseRecord(record: StoredRecord): unknown {
  try {
    return parseJson(record.value);
  } catch (error) {
    throw damaged(record.key, error);
  }
}

export const appliedKey = (name: string): string => `${APPLIED}${name}`;

/** Every applied migration, by name. */
export async function readApplied(driver: Driver, now: number): Promise<Map<string, AppliedRecord & { version: number }>> {
  const out = new Map<string, AppliedRecord & { version: number }>();
  const records = await driver.scan(MIGRATIONS_SPACE, { prefix: APPLIED }, now);
  for (const record of records) {
    const value = parseRecord(record);
    if (
      !isObject(value) ||
      typeof value.name !== 'string' ||
      typeof value.checksum !== 'string' ||
      appliedKey(value.name) !== record.key
    ) {
      throw damaged(record.key);
    }
    out.set(value.name, { ...(value as unknown as AppliedRecord), version: record.version });
  }
  return out;
}

export async function readRun(driver: Driver, now: number): Promise<(RunRecord & { version: number }) | null> {
  const record = await driver.get(MIGRATIONS_SPACE, RUN_KEY, now);
  if (record === null) return null;
  const value = parseRecord(record);
  if (!isObject(value) || typeof value.id !== 'string') throw damaged(RUN_KEY);
  return { ...(value as unknown as RunRecord), version: record.version };
}

/** Puts the applied record; `expect: 0` makes a second apply of the same name a CONFLICT. */
export function appliedOp(record: AppliedRecord): WriteOp {
  return {
    type: 'put',
    space: MIGRATIONS_SPACE,
    key: appliedKey(record.name),
    value: JSON.stringify(record),
    expiresAt: null,
    expect: 0,
  };
}

export function runOp(run: RunRecord, expect: number): WriteOp {
  const { version: _v, ...plain } = run as RunRecord & { version?: number };
  return { type: 'put', space: MIGRATIONS_SPACE, key: RUN_KEY, value: JSON.stringify(plain), expiresAt: null, expect };
}
