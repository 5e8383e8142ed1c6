// Strata through its built package (dist/), as an app would use it: kv namespace for the
// key-value workloads, a collection with `indexes: ['status']` for the query workload.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';

const DIST = new URL('../../dist/index.js', import.meta.url);

/** @type {Promise<typeof import('../../dist/index.js')>|undefined} */
let strata;
function load() {
  strata ??= import(pathToFileURL(DIST.pathname).href);
  return strata;
}

/**
 * @param {'sqlite'|'file'} driver
 * @returns {import('./types.mjs').Target}
 */
export function strataTarget(driver) {
  const url = (dir) => (driver === 'sqlite' ? `sqlite:${join(dir, 'strata.db')}` : `file:${join(dir, 'store')}`);
  const open = async (dir) => {
    const { openStore } = await load();
    const store = await openStore({ url: url(dir), durability: 'full', sweepInterval: false });
    const kv = store.kv('deployments');
    const docs = store.collection('deployment_docs', { indexes: ['status'] });
    return {
      set: (key, value) => kv.set(key, value),
      get: (key) => kv.get(key),
      setMany: (entries) => kv.setMany(entries),
      async readAll() {
        let n = 0;
        for await (const entry of kv.entries()) if (entry[1] !== null) n++;
        return n;
      },
      query: (status) => docs.query({ status }),
      close: () => store.close(),
    };
  };
  return {
    id: `strata-${driver}`,
    label: `Strata ${driver}`,
    durability: driver === 'sqlite' ? "durability 'full' (WAL, synchronous=FULL)" : "durability 'full' (journal append + fsync)",
    query: driver === 'sqlite',
    open,
    async prefill(dir, size, withDocs) {
      const { openStore } = await load();
      const store = await openStore({ url: url(dir), durability: 'normal', sweepInterval: false });
      const kv = store.kv('deployments');
      for (const chunk of chunks(size)) await kv.setMany(chunk);
      if (withDocs) {
        const docs = store.collection('deployment_docs', { indexes: ['status'] });
        for (const chunk of chunks(size)) await docs.upsertMany(chunk.map((e) => e[1]));
      }
      await store.close();
    },
  };
}
