import type { Collection } from '../collection.js';
import type { KvNamespace } from '../kv.js';
import type { Duration } from '../codec/duration.js';

/** A row of an SQL result: column name -> value, as better-sqlite3 returns it. */
export type SqlRow = Record<string, unknown>;

/**
 * `m.sql` of a function migration: a tagged template whose `${values}` become bound
 * parameters (never spliced into the text). Returns the rows of a statement that returns
 * rows, else `{ changes }`. On the sqlite backend only; elsewhere every call is UNSUPPORTED.
 */
export type SqlTag = (strings: TemplateStringsArray, ...values: unknown[]) => SqlRow[] | { changes: number };

/** What one batch of `m.batches` hands the function: the documents of the batch, in key order. */
export type BatchFunction = (docs: Array<Record<string, unknown>>, m: MigrationContext) => Promise<void> | void;

export interface BatchesOptions {
  /** Documents per batch (1-10,000); each batch commits atomically with its checkpoint. @default 500 */
  size?: number;
}

/** The handle a function migration's `up` / `down` gets. Its writes commit with the migration's record. */
export interface MigrationContext {
  /** The migration being run. */
  readonly name: string;
  kv<V = unknown>(name: string): KvNamespace<V>;
  collection<T extends object = Record<string, unknown>>(name: string): Collection<T, T, string>;
  /** Parameterised SQL on the store's own SQLite file (sqlite backend only). */
  readonly sql: SqlTag;
  /**
   * Walks `collection` in key order, `size` documents at a time; each batch's writes commit
   * together with a checkpoint, so a killed run resumes after the last committed batch.
   */
  batches(collection: string, options: BatchesOptions, fn: BatchFunction): Promise<number>;
}

export type MigrationFunction = (m: MigrationContext) => Promise<void> | void;

/** One migration: `up` (and `down`) are functions, or SQL text (sqlite backend only). */
export interface Migration {
  name: string;
  up: MigrationFunction | string;
  down?: MigrationFunction | string;
}

/** Where `store.migrate` takes its migrations from. */
export type MigrationSource = { dir: string } | { migrations: readonly Migration[] };

export interface MigrateProgress {
  /** The migration running. */
  migration: string;
  /** 1-based position of this migration among those the run applies, and how many there are. */
  step: number;
  steps: number;
  /** `start` / `done` of a migration; `batch` after each committed batch of `m.batches`. */
  phase: 'start' | 'batch' | 'done';
  /** With `batch`: documents handled so far, and the collection's size when the walk began. */
  done?: number;
  total?: number;
}

export interface MigrateOptions {
  /** Accept applied migrations whose source changed since (their new checksum is recorded). @default false */
  acceptChecksums?: boolean;
  /** Called as migrations start, commit batches and finish. */
  onProgress?: (progress: MigrateProgress) => void;
  /** How long the migrator lease lasts without renewal (renewed every third of it). @default '30s' */
  leaseTtl?: Duration;
  /** How long to wait for another process's run to finish before TIMEOUT. @default '10m' */
  wait?: Duration;
  /**
   * The id of a run whose process died and whose restore point is gone (or that you choose
   * not to undo): its record is dropped without restoring anything, and what it committed
   * stays. Only that run: a later dead run is still undone. See docs/migrations.md.
   */
  abandonRun?: string;
}

export interface MigrateResult {
  /** Names applied by this call, in order (empty when there was nothing to do). */
  applied: string[];
  /**
   * Set when this call first rolled back or resumed a run a dead process left unfinished, or
   * dropped it as `abandonRun` asked.
   */
  recovered?: { run: string; action: 'restored' | 'resumed' | 'abandoned' };
  /** The id of the backup taken before the run, when one was taken. */
  backup?: string;
}

export interface MigrationStatus {
  name: string;
  /** sha256 (hex) of the source of `up`: the recorded one when applied, else the current one. */
  checksum: string;
  /** ISO time the migration finished, `null` while pending. */
  appliedAt: string | null;
  startedAt: string | null;
  state: 'applied' | 'pending' | 'changed' | 'missing';
  /** `changed`: the checksum of the source now (differs from the recorded `checksum`). */
  currentChecksum?: string;
  kind: 'function' | 'sql' | null;
  /** Whether it can be reverted by `down` (`null` for a recorded migration whose source is gone). */
  hasDown: boolean | null;
}

export interface DownOptions {
  /** Revert every migration after this one (this one stays applied); `null` reverts all. */
  to: string | null;
  /** Where the `down`s are: default, the source last given to `store.migrate` in this process. */
  source?: MigrationSource;
  /** See MigrateOptions.leaseTtl / wait / abandonRun. */
  leaseTtl?: Duration;
  wait?: Duration;
  abandonRun?: string;
  onProgress?: (progress: MigrateProgress) => void;
}
