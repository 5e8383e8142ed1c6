import type { ChangeEvent } from '../driver.js';
import type { MemoryState, Mutation } from '../memory-state.js';

/** The change event for one applied mutation. */
export function changeEvent(m: Mutation, origin: ChangeEvent['origin']): ChangeEvent {
  return m.record
    ? { space: m.space, key: m.key, type: 'put', version: m.record.version, value: m.record.value, origin }
    : { space: m.space, key: m.key, type: 'delete', version: null, origin };
}

/** What differs between two images, as remote events: after a reload from the snapshots. */
export function diffEvents(before: MemoryState, after: MemoryState): ChangeEvent[] {
  const events: ChangeEvent[] = [];
  for (const [space, records] of after.spaces) {
    const was = before.spaces.get(space);
    for (const r of records.values()) {
      const b = was?.get(r.key);
      if (!b || b.version !== r.version || b.updatedAt !== r.updatedAt || b.value !== r.value) {
        events.push(changeEvent({ space, key: r.key, record: r }, 'remote'));
      }
    }
  }
  for (const [space, records] of before.spaces) {
    const now = after.spaces.get(space);
    for (const key of records.keys()) if (!now?.has(key)) events.push(changeEvent({ space, key, record: null }, 'remote'));
  }
  return events;
}
