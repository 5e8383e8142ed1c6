import type Database from 'better-sqlite3';
import type { Driver, WriteOp } from '../drivers/driver.js';
import { TransactionDriver } from '../transaction.js';
import type { TransactionScope } from '../store.js';
import { StrataError } from '../errors.js';
import { sqlTag } from './migrate-sql.js';
import type { SqlTag } from './migrate-types.js';

/** What the migrator needs from its store (built by `Store.migrate`; kept small on purpose). */
export interface MigrationHost {
  /** The store's driver stack (quota over encryption over the backend). */
  readonly driver: Driver;
  now(): number;
  /** kv / collection handles over `driver` (a unit's buffering driver), with the store's declarations. */
  scope(driver: Driver): TransactionScope;
  /** The store's own verified backup and restore, once available (see migrate-restore.ts). */
  backup?: () => Promise<{ id: string }>;
  restore?: (id: string) => Promise<void>;
  /** Removes a restore point that was kept only for the run. */
  discard?: (id: string) => Promise<void>;
  /** Throws CLOSED when the store's handle can no longer be used (closed, or restored away). */
  assertOpen?: (op: string) => void;
}

/**
 * One atomic step of a migration: its kv / collection writes are buffered in a transaction
 * driver (reads see them), and its SQL runs inside an IMMEDIATE SQLite transaction opened on
 * first use. `commit(extra)` writes the buffered writes plus `extra` (the `_migrations`
 * record, a checkpoint) in one driver batch, nested in that SQLite transaction when there is
 * one: all of it is in the file, or none of it.
 */
export class Unit {
  readonly tx: TransactionDriver;
  readonly scope: TransactionScope;
  readonly sql: SqlTag;
  readonly #host: MigrationHost;
  readonly #conn: Database.Database | null;
  readonly #migration: string;
  #open = false;
  /** Set once the unit committed or rolled back: its handles refuse to be used from then on. */
  #ended = false;

  constructor(host: MigrationHost, conn: Database.Database | null, migration: string) {
    this.#host = host;
    this.#conn = conn;
    this.#migration = migration;
    this.tx = new TransactionDriver(host.driver);
    this.scope = host.scope(this.#guarded(this.tx));
    const tag = sqlTag(conn, host.driver.name, migration);
    this.sql = (strings, ...values) => {
      this.#assertLive();
      this.begin();
      return tag(strings, ...values);
    };
  }

  #assertLive(): void {
    if (!this.#ended) return;
    throw new StrataError('BAD_INPUT', `migration "${this.#migration}": its handle (m) was used after its step ended`, {
      op: 'store.migrate',
      hint: 'await every write inside up / down (or the batch function); do not keep m, or the handles it gives, for later',
      details: { migration: this.#migration },
    });
  }

  /**
   * The transaction driver as the kv / collection handles see it: refusing once the unit
   * ended (a write to it then would be buffered for a commit that never comes; m.sql would
   * open a transaction on the store's connection that the app's next writes would join).
   */
  #guarded(tx: TransactionDriver): Driver {
    return new Proxy(tx, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          this.#assertLive();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  get sqlOpen(): boolean {
    return this.#open;
  }

  /** Opens the SQLite transaction (idempotent); a no-op on other backends. */
  begin(): void {
    if (this.#open || this.#conn === null) return;
    if (this.#conn.inTransaction) {
      throw new StrataError('LOCKED', 'store.migrate: another operation of this process holds a transaction on the store', {
        op: 'store.migrate',
        hint: 'run migrations when nothing else in this process writes (for example at startup)',
      });
    }
    this.#conn.exec('BEGIN IMMEDIATE');
    this.#open = true;
  }

  /** Runs SQL text (a whole script) inside the unit's transaction. */
  exec(text: string): void {
    this.begin();
    this.#conn!.exec(text);
  }

  async commit(extra: readonly WriteOp[]): Promise<void> {
    try {
      if (extra.length > 0) await this.tx.batch(extra, this.#host.now());
      await this.tx.commit(this.#host.now());
      if (this.#open) this.#conn!.exec('COMMIT');
      this.#open = false;
      this.#ended = true;
    } catch (error) {
      this.rollback();
      throw error;
    }
  }

  rollback(): void {
    if (this.#open && this.#conn!.inTransaction) this.#conn!.exec('ROLLBACK');
    this.#open = false;
    this.#ended = true;
  }
}
