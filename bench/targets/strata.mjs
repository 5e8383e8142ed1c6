// Strata through its built package (dist/), as an app would use it: a kv namespace for the
// key-value workloads, a collection (`key: 'id'`, `indexes: ['status']`) for the collection
// workloads. The `zod` variant runs only the collection workloads, with a zod schema.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { chunks } from '../lib/data.mjs';
import { Deployment } from './deployment-schema.mjs';

const DIST = new URL('../../dist/index.js', import.meta.url);
const COLLECTION = 'deployment_docs';

/** @type {Promise<typeof import('../../dist/index.js')>|undefined} */
let strata;
function load() {
  strata ??= import(pathToFileURL(DIST.pathname).href);
  return strata;
}

/**
 * @param {'sqlite'|'file'} driver
 * @param {{ zod?: boolean, encrypted?: boolean }} [variant]
 * @returns {import('./types.mjs').Target}
 */
export function strataTarget(driver, variant = {}) {
  const zod = variant.zod === true;
  // The encrypted variant: kv values encrypted whole, one of the documents' 8 fields encrypted.
  const encrypted = variant.encrypted === true;
  const encryption = encrypted ? { encryption: { keys: `k1:${Buffer.alloc(32, 9).toString('base64')}` } } : {};
  const url = (dir) => (driver === 'sqlite' ? `sqlite:${join(dir, 'strata.db')}` : `file:${join(dir, 'store')}`);
  const declare = (store) =>
    store.collection(COLLECTION, {
      key: 'id',
      indexes: ['status'],
      ...(zod ? { schema: Deployment } : {}),
      ...(encrypted ? { encrypt: ['triggeredBy'] } : {}),
    });
  const open = async (dir) => {
    const { openStore } = await load();
    const store = await openStore({ url: url(dir), durability: 'full', sweepInterval: false, ...encryption });
    const kv = store.kv('deployments', encrypted ? { encrypt: true } : undefined);
    const docs = declare(store);
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
      coll: {
        get: (key) => docs.get(key),
        upsert: (doc) => docs.upsert(doc),
        upsertMany: (list) => docs.upsertMany(list),
        async page(status, cursor, limit) {
          const page = await docs.page({ status }, { limit, cursor });
          return { items: page.items, next: page.next };
        },
      },
      close: () => store.close(),
    };
  };
  return {
    id: `strata-${driver}${zod ? '-zod' : ''}${encrypted ? '-enc' : ''}`,
    label: `Strata ${driver}${zod ? ' + zod schema' : ''}${encrypted ? ' encrypted' : ''}`,
    durability: driver === 'sqlite' ? "durability 'full' (WAL, synchronous=FULL)" : "durability 'full' (journal append + fsync)",
    query: driver === 'sqlite',
    coll: driver === 'sqlite',
    collectionOnly: zod,
    open,
    async prefill(dir, size, withDocs) {
      const { openStore } = await load();
      const store = await openStore({ url: url(dir), durability: 'normal', sweepInterval: false, ...encryption });
      if (!zod) {
        const kv = store.kv('deployments', encrypted ? { encrypt: true } : undefined);
        for (const chunk of chunks(size)) await kv.setMany(chunk);
      }
      if (withDocs) {
        const docs = declare(store);
        for (const chunk of chunks(size)) await docs.upsertMany(chunk.map((e) => e[1]));
      }
      await store.close();
    },
  };
}
