// node-persist 4: one file per key (sha256 of the key), plain fs.writeFile (no fsync).
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';

async function connect(dir) {
  const { default: storage } = await import('node-persist');
  const store = storage.create({ dir: join(dir, 'persist') });
  await store.init();
  return store;
}

function stop(store) {
  store.stopExpiredKeysInterval();
  store.stopWriteQueueInterval();
}

/** @type {import('./types.mjs').Target} */
export const nodePersist = {
  id: 'node-persist',
  label: 'node-persist',
  durability: 'one file per key, fs.writeFile (no fsync)',
  async prefill(dir, size) {
    const store = await connect(dir);
    for (const chunk of chunks(size, 1000)) await Promise.all(chunk.map(([k, v]) => store.setItem(k, v)));
    stop(store);
  },
  async open(dir) {
    const store = await connect(dir);
    return {
      set: (key, value) => store.setItem(key, value),
      get: async (key) => (await store.getItem(key)) ?? null,
      // No batch API: the batch is written concurrently.
      setMany: (entries) => Promise.all(entries.map(([k, v]) => store.setItem(k, v))),
      async readAll() {
        let n = 0;
        for (const value of await store.values()) if (value !== null) n++;
        return n;
      },
      close: () => stop(store),
    };
  },
};
