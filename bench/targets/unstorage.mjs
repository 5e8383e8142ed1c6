// unstorage with its fs driver: one file per key, fs.writeFile (no fsync).
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';

async function connect(dir) {
  const { createStorage } = await import('unstorage');
  const { default: fsDriver } = await import('unstorage/drivers/fs');
  return createStorage({ driver: fsDriver({ base: join(dir, 'fs') }) });
}

/** @type {import('./types.mjs').Target} */
export const unstorageFs = {
  id: 'unstorage',
  label: 'unstorage fs',
  durability: 'one file per key, fs.writeFile (no fsync)',
  async prefill(dir, size) {
    const storage = await connect(dir);
    for (const chunk of chunks(size, 1000)) await storage.setItems(chunk.map(([key, value]) => ({ key, value })));
    await storage.dispose();
  },
  async open(dir) {
    const storage = await connect(dir);
    return {
      set: (key, value) => storage.setItem(key, value),
      get: (key) => storage.getItem(key),
      // The fs driver has no batch write: unstorage writes the items concurrently.
      setMany: (entries) => storage.setItems(entries.map(([key, value]) => ({ key, value }))),
      async readAll() {
        const keys = await storage.getKeys();
        const items = await storage.getItems(keys);
        return items.filter((item) => item.value !== null).length;
      },
      close: () => storage.dispose(),
    };
  },
};
