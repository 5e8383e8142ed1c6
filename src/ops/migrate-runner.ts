import { progressCallback } from '../progress-callback.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import type { WriteOp } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import { parseDuration } from '../codec/duration.js';
import { MigratorLease } from './migrate-lock.js';
import { MIGRATIONS_SPACE, readRun, RUN_KEY, runOp, type Checkpoint, type RunRecord } from './migrate-records.js';
import { restorePoints } from './migrate-restore.js';
import type { LoadedMigration } from './migrate-source.js';
import { sqliteOf, sqlUnsupported } from './migrate-sql.js';
import { makeBatches } from './migrate-batches.js';
import { Unit, type MigrationHost } from './migrate-unit.js';
import type { MigrateProgress, MigrateResult, MigrationContext, MigrationFunction } from './migrate-types.js';

/** One step of a run: a migration's `up` (or `down`), run as one atomic unit with `finish`'s ops. */
export interface Step {
  migration: LoadedMigration;
  direction: 'up' | 'down';
  /** The record ops committed with the step's writes (put or remove its `_migrations` record). */
  finish(startedAt: number, finishedAt: number, run: string): WriteOp[];
}

export interface RunSettings {
  leaseTtlMs: number;
  waitMs: number;
  onProgress: ((p: MigrateProgress) => void) | undefined;
}

/** The longest `wait` (and CLI `--wait`) accepted. */
export const MAX_WAIT_MS = 7 * 24 * 3600_000;

/**
 * The shortest `leaseTtl`: the lease is renewed every third of it, and each renewal is a
 * store write (an fsync on file and sqlite). Below this, a renewal delayed by one slow write
 * lets the lease expire under a holder that never stalled: a second migrator takes it over
 * instead of waiting, and the first stops with a LOCKED that blames it for a stall.
 */
export const MIN_LEASE_TTL_MS = 500;

export function parseRunSettings(options: { leaseTtl?: unknown; wait?: unknown; onProgress?: unknown }, op: string): RunSettings {
  const onProgress = progressCallback<MigrateProgress>(options.onProgress, op);
  const leaseTtlMs = parseDuration(options.leaseTtl ?? '30s', 'leaseTtl', 24 * 3600_000);
  if (leaseTtlMs < MIN_LEASE_TTL_MS) {
    throw new StrataError('BAD_INPUT', `${op}: leaseTtl must be at least ${MIN_LEASE_TTL_MS} ms, got ${leaseTtlMs} ms`, {
      op,
      hint: `the lease is renewed every third of leaseTtl, which a shorter one cannot keep; leave the default ('30s') or pass at least '${MIN_LEASE_TTL_MS}ms'`,
      details: { option: 'leaseTtl', min: MIN_LEASE_TTL_MS },
    });
  }
  return {
    leaseTtlMs,
    waitMs: parseDuration(options.wait ?? '10m', 'wait', MAX_WAIT_MS),
    onProgress,
  };
}

/** The run record as this process last wrote it, and its version (the run holds the lease). */
export class RunState {
  record: RunRecord;
  version: number;
  constructor(record: RunRecord, version: number) {
    this.record = record;
    this.version = version;
  }
  /** The op writing `next` over the current record; call `advance()` once it committed. */
  put(next: RunRecord): WriteOp {
    return runOp(next, this.version);
  }
  remove(): WriteOp {
    return { type: 'delete', space: MIGRATIONS_SPACE, key: RUN_KEY, expect: this.version };
  }
}

/** A step threw and the run's restore point is gone: its earlier steps stay, the run record too. */
function unrestorable(step: Step, cause: unknown, record: RunRecord): StrataError {
  const why = cause instanceof Error ? cause.message : String(cause);
  const name = step.migration.name;
  return new StrataError(
    'MIGRATION_FAILED',
    `migration "${name}" (${step.direction}) failed: ${why}; the run could not be undone: its restore point ${record.backup} is gone (deleted or moved), so the steps it committed stay`,
    {
      op: step.direction === 'up' ? 'store.migrate' : 'store.migrations.down',
      cause,
      hint: `fix the migration, then ${abandonHint(record)}`,
      details: { migration: name, direction: step.direction, restored: false, run: record.id, backup: record.backup },
    },
  );
}

export function failed(step: string, direction: 'up' | 'down', cause: unknown, restored: boolean): StrataError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StrataError('MIGRATION_FAILED', `migration "${step}" (${direction}) failed: ${why}`, {
    op: direction === 'up' ? 'store.migrate' : 'store.migrations.down',
    cause,
    hint: restored
      ? 'the store was restored to its state before the run; fix the migration and run again'
      : 'nothing of this step was written; fix the migration and run again',
    details: { migration: step, direction, restored },
  });
}

/**
 * Runs `plan` (computed under the lease, from the records then) one atomic step at a time,
 * between a restore point and a run record:
 * - before the first step: a verified backup, then a run record naming it;
 * - a step that throws: the backup is restored (undoing the run's earlier steps), then
 *   MIGRATION_FAILED naming the step;
 * - the last step's commit also removes the run record. A run record found by a later run
 *   means its process died: that run is undone from its backup first (or, when it died inside
 *   `m.batches`, resumed from its checkpoint).
 */
export async function withLease<R>(
  host: MigrationHost,
  settings: RunSettings,
  fn: (lease: MigratorLease) => Promise<R>,
): Promise<R> {
  const lease = new MigratorLease(host.driver, () => host.now(), settings.leaseTtlMs);
  await lease.acquire(settings.waitMs);
  try {
    return await fn(lease);
  } finally {
    await lease.release();
  }
}

/**
 * Undoes or resumes what a dead run left. Returns the checkpoint to resume from, if resuming:
 * only when `canResume` says the source can go on from that checkpoint (see `resumable` in
 * migrate.ts); otherwise the run is undone from its restore point like any other, unless the
 * caller named this very run in `abandon` (the user checked the store and keeps it as it is).
 */
export async function recover(
  host: MigrationHost,
  lease: MigratorLease,
  canResume: (checkpoint: Checkpoint) => boolean,
  op: string,
  abandon?: string,
): Promise<{ recovered?: MigrateResult['recovered']; resume: RunState | null }> {
  const run = await readRun(host.driver, host.now());
  if (run === null) return { resume: null };
  const { version, ...record } = run;
  if (record.checkpoint !== null && canResume(record.checkpoint))
    return { recovered: { run: record.id, action: 'resumed' }, resume: new RunState(record, version) };
  const abandoned = abandon === record.id;
  if (record.backup !== null && !abandoned) {
    try {
      await rollBack(host, lease, record.backup, typeof record.lease === 'string' ? record.lease : undefined);
    } catch (error) {
      if (!StrataError.is(error, 'NOT_FOUND')) throw error;
      throw restorePointGone(record, op, error);
    }
  }
  // Still there when no backup could be taken (every step of that run was atomic on its own).
  await removeRun(host, lease);
  return { recovered: { run: record.id, action: abandoned ? 'abandoned' : 'restored' }, resume: null };
}

function rollBack(host: MigrationHost, lease: MigratorLease, backup: string, from: string | undefined): Promise<void> {
  return lease.restoring(() => restorePoints(host).rollbackTo(backup), from);
}

/** How a run record found by a later run is described to the user: enough to recognise it. */
const describeRun = (record: RunRecord): string =>
  `${record.id} (process ${record.process}, started ${new Date(record.startedAt).toISOString()}${
    record.current === null ? '' : `, in migration "${record.current}"`
  })`;

/**
 * A dead run whose restore point was deleted (a `strata backup prune`, a cleanup by hand) can
 * no longer be undone. Whether its half-done state is acceptable is something only the user
 * can judge, so it is not decided here: the way on is naming the run in `abandonRun`.
 */
function restorePointGone(record: RunRecord, op: string, cause: unknown): StrataError {
  return new StrataError(
    'NOT_FOUND',
    `${op}: the migration run ${describeRun(record)} did not finish, and its restore point ${record.backup} is gone (deleted or moved), so what that run wrote cannot be undone; nothing was changed`,
    {
      op,
      cause,
      hint: abandonHint(record),
      details: { run: record.id, backup: record.backup, migration: record.current, checkpoint: record.checkpoint },
    },
  );
}

function abandonHint(record: RunRecord): string {
  return (
    `put the backup back at ${record.backup} and run again; or, once you have checked that the store is as you want it ` +
    `(the migrations that run committed stay applied: strata migrate status), go on without undoing it: ` +
    `{ abandonRun: '${record.id}' } (CLI: --abandon-run ${record.id})`
  );
}

/** Removes the run record, if there is one, under the lease. */
async function removeRun(host: MigrationHost, lease: MigratorLease): Promise<void> {
  const left = await readRun(host.driver, host.now());
  if (left === null) return;
  await lease.exclusive((fence) =>
    host.driver.batch([fence, { type: 'delete', space: MIGRATIONS_SPACE, key: RUN_KEY, expect: left.version }], host.now(), {
      results: false,
    }),
  );
}

export async function runSteps(
  host: MigrationHost,
  lease: MigratorLease,
  steps: readonly Step[],
  settings: RunSettings,
  resume: RunState | null,
  extra: readonly WriteOp[] = [],
): Promise<{ backup: string | null }> {
  const conn = sqliteOf(host.driver);
  for (const step of steps) {
    // The body the step runs: a down's kind may differ from its up's (an up function, a down SQL text).
    const body = step.direction === 'up' ? step.migration.up : step.migration.down;
    if (typeof body === 'string' && conn === null) throw sqlUnsupported(host.driver.name, step.migration.name);
  }
  const points = restorePoints(host);
  let state = resume;
  if (state === null) {
    const backup = await points.take();
    const record: RunRecord = {
      id: randomBytes(8).toString('hex'),
      backup,
      startedAt: host.now(),
      process: `${hostname()}:${process.pid}`,
      lease: lease.owner,
      current: null,
      checkpoint: null,
    };
    await lease.exclusive((fence) => host.driver.batch([fence, runOp(record, 0), ...extra], host.now(), { results: false }));
    state = new RunState(record, 1);
  }
  let callbackError: unknown = undefined;
  for (const [i, step] of steps.entries()) {
    lease.check();
    const progress = (p: Omit<MigrateProgress, 'migration' | 'step' | 'steps'>): void => {
      try {
        settings.onProgress?.({ migration: step.migration.name, step: i + 1, steps: steps.length, ...p });
      } catch (error) {
        callbackError = error;
        throw error;
      }
    };
    const last = i === steps.length - 1;
    // The progress calls are inside the try: a throwing onProgress stops the run like a
    // throwing migration (rolled back, no run record left), else a later run would find a
    // run record whose restore point holds this run's lease record, and wait for it.
    try {
      progress({ phase: 'start' });
      await runStep(host, lease, conn, step, state, last, (done, total) => progress({ phase: 'batch', done, total }));
      progress({ phase: 'done' });
    } catch (error) {
      // Another process took the lease over (this one stalled) and owns the run now: touch nothing.
      if (lease.isLost(error)) throw error;
      let restored = false;
      const backup = state.record.backup;
      if (backup !== null) {
        try {
          // A resumed run's restore point is the dead run's, taken under that run's lease.
          await rollBack(host, lease, backup, state.record.lease);
        } catch (rollbackError) {
          if (!StrataError.is(rollbackError, 'NOT_FOUND')) throw rollbackError;
          // The run record stays: the next run finds it and says the same (restore point gone).
          throw unrestorable(step, error, state.record);
        }
        restored = true;
      }
      await removeRun(host, lease);
      await points.discard(backup);
      // The caller's own callback failing stays its BAD_INPUT (README "Errors"), after the rollback.
      if (error === callbackError) throw error;
      throw failed(step.migration.name, step.direction, error, restored);
    }
  }
  await points.discard(state.record.backup);
  return { backup: state.record.backup };
}

async function runStep(
  host: MigrationHost,
  lease: MigratorLease,
  conn: Database.Database | null,
  step: Step,
  state: RunState,
  last: boolean,
  onBatch: (done: number, total: number) => void,
): Promise<void> {
  const { migration } = step;
  const body = step.direction === 'up' ? migration.up : migration.down!;
  const startedAt = host.now();
  const resumeFrom: Checkpoint | null = state.record.checkpoint?.migration === migration.name ? state.record.checkpoint : null;
  const unit = new Unit(host, conn, migration.name);
  // Record ops: the migration's record, and the run record (removed after the last step).
  const finishOps = (): WriteOp[] => {
    const ops = step.finish(startedAt, host.now(), state.record.id);
    if (last) ops.push(state.remove());
    else if (state.record.checkpoint !== null) ops.push(state.put({ ...state.record, checkpoint: null, current: null }));
    return ops;
  };
  if (typeof body === 'string') {
    try {
      unit.exec(body);
    } catch (error) {
      unit.rollback();
      throw error;
    }
  } else {
    const contextFor = (u: Unit): MigrationContext => ({
      name: migration.name,
      kv: (name) => u.scope.kv(name),
      collection: (name) => u.scope.collection(name),
      sql: u.sql,
      batches,
    });
    const batches = makeBatches(
      {
        migration: migration.name,
        resumeFrom,
        newUnit: () => new Unit(host, conn, migration.name),
        contextFor,
        commitBatch: async (u, checkpoint) => {
          const next: RunRecord = {
            ...state.record,
            current: migration.name,
            checkpoint: { ...checkpoint, checksum: migration.checksum },
          };
          await lease.exclusive((fence) => u.commit([fence, state.put(next)]));
          state.record = next;
          state.version++;
        },
        progress: onBatch,
      },
      () => unit,
    );
    try {
      await (body as MigrationFunction)(contextFor(unit));
    } catch (error) {
      unit.rollback();
      throw error;
    }
  }
  const hadCheckpoint = state.record.checkpoint !== null;
  await lease.exclusive((fence) => unit.commit([fence, ...finishOps()]));
  if (!last && hadCheckpoint) {
    state.record = { ...state.record, checkpoint: null, current: null };
    state.version++;
  }
}
