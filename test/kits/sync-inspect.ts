// Shared by the sync kit's SIGKILL tests: what a killed walker left in the store.
import { strata } from '../reliability/helpers.js';

export interface StreamOnDisk {
  state: { covered: number[][]; checkpoint: { page: number } | null } | null;
  items: Array<{ id: string; at: number; page: number }>;
}

/** The stream `items`' stored state and its collection's items in `at` order, read by a fresh store. */
export async function inspectStream(url: string): Promise<StreamOnDisk> {
  const store = await strata.openStore(url);
  try {
    const state = (await store.kv('sync.streams').get('items')) as StreamOnDisk['state'];
    const items = (await store.collection('items').query({}, { sort: { at: 1 } })) as StreamOnDisk['items'];
    return { state, items };
  } finally {
    await store.close();
  }
}
