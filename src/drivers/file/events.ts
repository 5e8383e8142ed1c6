import type { ChangeEvent } from '../driver.js';
import type { Mutation } from '../memory-state.js';

/** The change event for one applied mutation. */
export function changeEvent(m: Mutation, origin: ChangeEvent['origin']): ChangeEvent {
  return m.record
    ? { space: m.space, key: m.key, type: 'put', version: m.record.version, value: m.record.value, origin }
    : { space: m.space, key: m.key, type: 'delete', version: null, origin };
}

/** Continuity was lost for `space`: its listeners must re-read it. */
export function resetEvent(space: string): ChangeEvent {
  return { space, key: '', type: 'reset', version: null, origin: 'remote' };
}
