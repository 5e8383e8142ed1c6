// The seed's migrations and its MigrationManager, mapped onto Strata's own: `store.migrate`
// records each applied migration in `_migrations` atomically with its writes, takes a
// verified backup before a run and restores it when a step fails (MIGRATION_FAILED), so
// `createBackup` / `rollback` are needed only for a rollback the app decides on itself.
import type { Migration, Store } from '../../src/index.js';
import type { Task } from './domain.js';
import { bad, checkObject, checkText, isCount } from './checks.js';
import { TASKS, taskCollection } from './tasks.js';

/**
 * Version numbers live in the names, and the store runs migrations in name (code point)
 * order, so the names must sort as the numbers do. Versions up to 9999 keep the four digits
 * stores already recorded ('0002-add-task-priority-field'); a larger one is 'x' and sixteen
 * digits (enough for any safe integer), which sorts after every four-digit name and among
 * its own kind by number.
 */
const nameOf = (version: number, description: string): string =>
  `${version <= 9999 ? String(version).padStart(4, '0') : `x${String(version).padStart(16, '0')}`}-${description.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
const versionOf = (name: string): number => Number(/^x?(\d+)-/.exec(name)?.[1]);
/** The store's limit on a name (200) less the longest version prefix. */
const MAX_DESCRIPTION = 180;

function checkVersion(version: unknown, op: string, what = 'version'): number {
  if (isCount(version)) return version;
  const got = typeof version === 'string' ? JSON.stringify(version) : String(version);
  throw bad(op, `${what} must be a whole number of 1 or more, got ${got}`, 'pass a number such as 3');
}

/** The seed's "Add task priority field", over big task lists in resumable batches. */
export const addTaskPriority: Migration = {
  name: nameOf(2, 'Add task priority field'),
  async up(m) {
    await m.batches(TASKS, { size: 500 }, async (docs, b) => {
      for (const task of docs as Task[])
        if (task.priority === undefined) await b.collection(TASKS).update(task.id, { priority: 'medium' });
    });
  },
  async down(m) {
    await m.batches(TASKS, { size: 500 }, async (docs, b) => {
      for (const task of docs as Task[]) {
        const { priority: _dropped, ...rest } = task;
        await b.collection(TASKS).set(task.id, rest);
      }
    });
  },
};

export interface SeedMigration {
  description: string;
  up: Migration['up'];
  down?: Migration['down'];
}

export const KAZARI_MIGRATIONS: Migration[] = [addTaskPriority];

/**
 * Brings data imported from an older installation up to this one. An import does not carry
 * the record of applied migrations (this installation keeps its own), so the data steps of
 * the migrations already applied here run again over what came in; each is idempotent.
 */
export async function upgradeImported(store: Store): Promise<void> {
  // addTaskPriority's step, as one atomic updateWhere.
  await taskCollection(store).updateWhere({ priority: { $exists: false } }, { priority: 'medium' });
}

export class MigrationManager {
  readonly #store: Store;
  readonly #registered = new Map<number, Migration>();

  constructor(store: Store, migrations: readonly Migration[] = KAZARI_MIGRATIONS) {
    this.#store = store;
    for (const m of migrations) this.#registered.set(versionOf(m.name), m);
  }

  /** The highest applied version; 1 for a store no migration ran on. */
  async getCurrentVersion(): Promise<number> {
    const applied = (await this.#store.migrations.status()).filter((s) => s.state === 'applied');
    // Names not made by nameOf (another tool's migrations) have no version to report.
    return Math.max(1, ...applied.map((s) => versionOf(s.name)).filter(Number.isFinite));
  }

  /** Applies every registered migration up to `targetVersion` (a backup is taken first; a failure restores it). */
  async runMigrations(targetVersion: number): Promise<void> {
    checkVersion(targetVersion, 'migrations.runMigrations', 'targetVersion');
    const migrations = [...this.#registered].filter(([v]) => v <= targetVersion).map(([, m]) => m);
    await this.#store.migrate({ migrations });
  }

  /** The seed's form: a version and a description (the name Strata records is made of both). */
  registerMigration(version: number, migration: SeedMigration): void {
    const op = 'migrations.registerMigration';
    checkVersion(version, op);
    checkObject(migration, 'migration', op, "{ description: 'Add a field', up: async (m) => {...} }");
    if (checkText(migration.description, 'description', op, "e.g. 'Add task priority field'").length > MAX_DESCRIPTION)
      throw bad(
        op,
        `description must be at most ${MAX_DESCRIPTION} characters (it names the migration)`,
        'pass a shorter description',
      );
    if (typeof migration.up !== 'function' || (migration.down !== undefined && typeof migration.down !== 'function'))
      throw bad(op, 'up (and down, when given) must be functions', 'pass up: async (m) => {...}');
    const taken = this.#registered.get(version);
    // Another name under a recorded version would run as a new migration beside the applied one.
    if (taken !== undefined)
      throw bad(op, `version ${version} is already registered (${taken.name})`, 'pass a version not registered yet');
    const named: Migration = { name: nameOf(version, migration.description), up: migration.up };
    if (migration.down !== undefined) named.down = migration.down;
    this.#registered.set(version, named);
  }

  /** A verified backup, by id (`strata backup list` shows it too). */
  async createBackup(_version: number): Promise<string> {
    const backup = await this.#store.backup();
    await this.#store.backups.verify(backup.id);
    return backup.id;
  }

  async rollback(backupId: string): Promise<void> {
    checkText(backupId, 'backupId', 'migrations.rollback', 'the id createBackup() returned');
    await this.#store.restore(backupId);
  }
}
