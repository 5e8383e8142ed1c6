import { StrataError, withOp } from '../errors.js';
import { checkOptions } from '../codec/options.js';
import { appliedKey, appliedOp, MIGRATIONS_SPACE, readApplied, type AppliedRecord, type Checkpoint } from './migrate-records.js';
import { loadSource, sameSource, type LoadedMigration } from './migrate-source.js';
import { parseRunSettings, recover, runSteps, withLease, type Step } from './migrate-runner.js';
import type { MigrationHost } from './migrate-unit.js';
import type { WriteOp } from '../drivers/driver.js';
import type { DownOptions, MigrateOptions, MigrateResult, MigrationSource, MigrationStatus } from './migrate-types.js';

export type { MigrationHost } from './migrate-unit.js';

const MIGRATE_OPTIONS = ['acceptChecksums', 'onProgress', 'leaseTtl', 'wait', 'abandonRun'] as const;

function parseAbandon(options: { abandonRun?: unknown }, op: string): string | undefined {
  const id = options.abandonRun;
  if (id === undefined) return undefined;
  if (typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  throw new StrataError('BAD_INPUT', `${op}: abandonRun must be the id of a run, as the error about it names it`, {
    op,
    hint: "copy the id from that error's details.run (CLI: --abandon-run <id>), e.g. { abandonRun: '3f2a9c0d1e4b5a67' }",
    details: { option: 'abandonRun' },
  });
}

/**
 * Whether a dead run's checkpoint may be resumed with `migrations`: only by the same source
 * (its checksum), and only when its migration is the first one pending. A migration sorting
 * before it that is pending now (merged since) must run first, on the store as it was before
 * the walk began: resuming after it could skip documents it adds behind the checkpoint, and
 * letting it run on a half-walked collection breaks name order. So such a run is restored
 * and run again in order, which also keeps every document handled exactly once.
 */
function resumable(migrations: readonly LoadedMigration[], applied: ReadonlyMap<string, unknown>): (c: Checkpoint) => boolean {
  const first = migrations.find((m) => !applied.has(m.name));
  return (checkpoint) => first !== undefined && first.name === checkpoint.migration && checkpoint.checksum === first.checksum;
}

function changedError(m: LoadedMigration, recorded: AppliedRecord): StrataError {
  return new StrataError(
    'MIGRATION_FAILED',
    `migration "${m.name}" was applied, and its source has changed since; { acceptChecksums: true } (strata migrate up --accept-checksums) records the new checksum without running it again`,
    {
      op: 'store.migrate',
      hint: 'restore the original source, or write the change as a new migration',
      details: { migration: m.name, recorded: recorded.checksum, current: m.checksum },
    },
  );
}

/**
 * Applies every pending migration of `source` in name order (see README "Migrations"):
 * under the migrator lease, after a backup, each as one atomic step with its record.
 */
export async function migrate(
  host: MigrationHost,
  source: MigrationSource,
  options: MigrateOptions = {},
  loaded: () => void = () => {},
): Promise<MigrateResult> {
  const op = 'store.migrate';
  try {
    checkOptions(options, MIGRATE_OPTIONS, op);
    if (options.acceptChecksums !== undefined && typeof options.acceptChecksums !== 'boolean') {
      throw new StrataError('BAD_INPUT', `${op}: acceptChecksums must be a boolean`, { op });
    }
    const settings = parseRunSettings(options, op);
    const abandon = parseAbandon(options, op);
    const migrations = await loadSource(source);
    loaded();
    return await withLease(host, settings, async (lease) => {
      const appliedAtStart = await readApplied(host.driver, host.now());
      const { recovered, resume } = await recover(host, lease, resumable(migrations, appliedAtStart), op, abandon);
      const applied = recovered === undefined ? appliedAtStart : await readApplied(host.driver, host.now());
      const accept: WriteOp[] = [];
      for (const m of migrations) {
        const recorded = applied.get(m.name);
        if (recorded === undefined || sameSource(m, recorded.checksum)) continue;
        if (options.acceptChecksums !== true) throw changedError(m, recorded);
        accept.push({
          type: 'put',
          space: MIGRATIONS_SPACE,
          key: appliedKey(m.name),
          value: JSON.stringify({ ...withoutVersion(recorded), checksum: m.checksum }),
          expiresAt: null,
          expect: recorded.version,
        });
      }
      const pending = migrations.filter((m) => !applied.has(m.name));
      const result: MigrateResult = { applied: [] };
      if (recovered !== undefined) result.recovered = recovered;
      if (pending.length === 0) {
        if (accept.length > 0) {
          await lease.exclusive((fence) => host.driver.batch([fence, ...accept], host.now(), { results: false }));
        }
        return result;
      }
      const steps: Step[] = pending.map((m) => ({
        migration: m,
        direction: 'up',
        finish: (startedAt, finishedAt, run) => [
          appliedOp({ name: m.name, checksum: m.checksum, kind: m.kind, startedAt, finishedAt, run }),
        ],
      }));
      const { backup } = await runSteps(host, lease, steps, settings, resume, accept);
      result.applied = pending.map((m) => m.name);
      if (backup !== null) result.backup = backup;
      return result;
    });
  } catch (error) {
    throw withOp(error, op, host.driver.name);
  }
}

function withoutVersion(record: AppliedRecord & { version?: number }): AppliedRecord {
  const { version: _v, ...rest } = record;
  return rest;
}

/** `store.migrations`: what is applied and pending, and running `down`s. */
export class Migrations {
  readonly #host: MigrationHost;
  /** The source last given to `store.migrate` in this process, used when `status`/`down` are given none. */
  #source: MigrationSource | undefined;

  constructor(host: MigrationHost) {
    this.#host = host;
  }

  /** @internal Remembers the source of the last `store.migrate` call. */
  remember(source: MigrationSource): void {
    this.#source = source;
  }

  async #load(given: MigrationSource | undefined): Promise<LoadedMigration[] | null> {
    const source = given ?? this.#source;
    return source === undefined ? null : loadSource(source);
  }

  /**
   * Every migration, applied ones (with their recorded checksum and times) and pending ones
   * of the source (the one given, else the last passed to `store.migrate` here), in name order.
   */
  async status(source?: MigrationSource): Promise<MigrationStatus[]> {
    const op = 'store.migrations.status';
    try {
      this.#host.assertOpen?.(op);
      const loaded = await this.#load(source);
      const applied = await readApplied(this.#host.driver, this.#host.now());
      const byName = new Map((loaded ?? []).map((m) => [m.name, m]));
      const names = [...new Set([...applied.keys(), ...byName.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return names.map((name): MigrationStatus => {
        const m = byName.get(name);
        const r = applied.get(name);
        const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());
        const state =
          r === undefined
            ? 'pending'
            : m === undefined
              ? loaded === null
                ? 'applied'
                : 'missing'
              : !sameSource(m, r.checksum)
                ? 'changed'
                : 'applied';
        return {
          name,
          checksum: r?.checksum ?? m!.checksum,
          appliedAt: iso(r?.finishedAt),
          startedAt: iso(r?.startedAt),
          state,
          ...(state === 'changed' ? { currentChecksum: m!.checksum } : {}),
          kind: m?.kind ?? r?.kind ?? null,
          hasDown: m === undefined ? null : m.down !== undefined,
        };
      });
    } catch (error) {
      throw withOp(error, op, this.#host.driver.name);
    }
  }

  /**
   * Runs the `down`s of the applied migrations after `to`, newest first, each as one atomic
   * step with the removal of its record, after a backup (restored if one throws). Every one
   * must have a `down` and a source; that is checked before anything runs.
   */
  async down(options: DownOptions): Promise<{ reverted: string[] }> {
    const op = 'store.migrations.down';
    try {
      this.#host.assertOpen?.(op);
      checkOptions(options, ['to', 'source', 'leaseTtl', 'wait', 'onProgress', 'abandonRun'], op);
      if (options === undefined || !('to' in options) || (options.to !== null && typeof options.to !== 'string')) {
        throw new StrataError('BAD_INPUT', `${op}: pass { to: name } (the migration to stay at) or { to: null } (revert all)`, {
          op,
        });
      }
      const settings = parseRunSettings(options, op);
      const abandon = parseAbandon(options, op);
      const loaded = await this.#load(options.source);
      if (loaded === null) {
        throw new StrataError(
          'BAD_INPUT',
          `${op}: no migrations source is known in this process (strata migrate down takes --dir)`,
          {
            op,
            hint: 'pass { source: { dir } }, or call store.migrate(source) first',
          },
        );
      }
      return await withLease(this.#host, settings, async (lease) => {
        // A batched migration a dead run stopped in, that migrate would resume, is left to it;
        // one it would restore is restored here just the same.
        const appliedBefore = await readApplied(this.#host.driver, this.#host.now());
        const { resume } = await recover(this.#host, lease, resumable(loaded, appliedBefore), op, abandon);
        if (resume !== null) {
          throw new StrataError('MIGRATION_FAILED', `${op}: a batched migration was interrupted; finish it first`, {
            op,
            hint: 'run store.migrate (strata migrate up) to resume it, then down',
          });
        }
        const applied = await readApplied(this.#host.driver, this.#host.now());
        const to = options.to;
        if (to !== null && !applied.has(to)) {
          throw new StrataError('NOT_FOUND', `${op}: "${to}" is not an applied migration`, {
            op,
            hint: 'see strata migrate status for the applied names',
            details: { migration: to },
          });
        }
        const byName = new Map(loaded.map((m) => [m.name, m]));
        const names = [...applied.keys()]
          .filter((n) => to === null || n > to)
          .sort()
          .reverse();
        const steps: Step[] = names.map((name) => {
          const m = byName.get(name);
          if (m === undefined || m.down === undefined) {
            throw new StrataError(
              'MIGRATION_FAILED',
              `migration "${name}" ${m === undefined ? 'has no source any more' : 'has no down'}; nothing was reverted`,
              {
                op,
                hint:
                  m === undefined
                    ? 'put its file back in the migrations directory, or pass the directory that has it ({ source: { dir } }; CLI: --dir)'
                    : `add a down to "${name}", or go down only to "${name}" ({ to: "${name}" }; CLI: --to ${name})`,
                details: { migration: name },
              },
            );
          }
          const version = applied.get(name)!.version;
          return {
            migration: m,
            direction: 'down',
            finish: () => [{ type: 'delete', space: MIGRATIONS_SPACE, key: appliedKey(name), expect: version }],
          };
        });
        if (steps.length === 0) return { reverted: [] };
        await runSteps(this.#host, lease, steps, settings, null);
        return { reverted: names };
      });
    } catch (error) {
      throw withOp(error, op, this.#host.driver.name);
    }
  }
}
