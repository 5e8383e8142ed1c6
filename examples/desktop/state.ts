// The seed's StateRepository: the app state window layout and selection, one schema-checked
// value with a version, so a snapshot records what it was taken at and restoring one checks
// its checksum first.
import { StrataError, type Store } from '../../src/index.js';
import { ApplicationStateSchema, type ApplicationState, type StateSnapshot } from './domain.js';
import type { SecurityManager } from './security.js';

export const STATE_NS = 'app-state';
const KEY = 'state';

export class StateRepository {
  readonly #kv;
  readonly #security: SecurityManager;

  constructor(store: Store, security: SecurityManager) {
    this.#kv = store.kv<ApplicationState>(STATE_NS);
    this.#security = security;
  }

  async saveState(state: ApplicationState): Promise<void> {
    await this.#kv.set(KEY, check(state, 'saveState'));
  }

  async loadState(): Promise<ApplicationState | null> {
    const stored = await this.#kv.get(KEY);
    return stored === null ? null : check(stored, 'loadState');
  }

  async getStateSnapshot(): Promise<StateSnapshot> {
    const entry = await this.#kv.getEntry(KEY);
    const state = entry === null ? null : check(entry.value, 'getStateSnapshot');
    return {
      state,
      version: entry?.version ?? 0,
      takenAt: new Date().toISOString(),
      checksum: this.#security.generateChecksum(state),
    };
  }

  async restoreFromSnapshot(snapshot: StateSnapshot): Promise<void> {
    if (
      snapshot === null ||
      typeof snapshot !== 'object' ||
      !this.#security.validateDataIntegrity(snapshot.state, snapshot.checksum)
    ) {
      throw new StrataError('INTEGRITY', 'restoreFromSnapshot: the snapshot does not match its checksum', {
        hint: 'take a new snapshot with getStateSnapshot()',
      });
    }
    if (snapshot.state === null) await this.#kv.delete(KEY);
    else await this.#kv.set(KEY, check(snapshot.state, 'restoreFromSnapshot'));
  }

  async clearState(): Promise<void> {
    await this.#kv.delete(KEY);
  }
}

function check(value: unknown, op: string): ApplicationState {
  const result = ApplicationStateSchema.safeParse(value);
  if (!result.success) throw new StrataError('VALIDATION_FAILED', `state.${op}: ${result.error.message}`);
  return result.data;
}
