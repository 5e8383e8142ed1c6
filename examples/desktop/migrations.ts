// The seed's migrations and its MigrationManager, mapped onto Strata's own: `store.migrate`
// records each applied migration in `_migrations` atomically with its writes, takes a
// verified backup before a run and restores it when a step fails (MIGRATION_FAILED), so
// `createBackup` / `rollback` are needed only for a rollback the app decides on itself.
import type { Migration, Store } from '../../src/index.js';
import type { Task } from './domain.js';
import { TASKS, taskCollection } from './tasks.js';

/** Version numbers live in the names, so name order is version order. */
const nameOf = (version: number, description: string): string =>
  `${String(version).padStart(4, '0')}-${description.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
const versionOf = (name: string): number => Number(name.slice(0, 4));

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
    return Math.max(1, ...applied.map((s) => versionOf(s.name)));
  }

  /** Applies every registered migration up to `targetVersion` (a backup is taken first; a failure restores it). */
  async runMigrations(targetVersion: number): Promise<void> {
    const migrations = [...this.#registered].filter(([v]) => v <= targetVersion).map(([, m]) => m);
    await this.#store.migrate({ migrations });
  }

  /** The seed's form: a version and a description (the name Strata records is made of both). */
  registerMigration(version: number, migration: SeedMigration): void {
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
    await this.#store.restore(backupId);
  }
}
