// upsertMany of the whole collection (20k documents at 20k) in one call vs one raw
// transaction of upserts; alternates between two rewrites so every write changes bytes.
// Counted in documents.
import { fullRewrites } from '../lib/data.mjs';

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'c-upsert-many',
  title: 'collection upsertMany (all docs)',
  unit: 'docs/s',
  needs: 'coll',
  slow: true,
  noWarmup: true,
  step(h, ctx) {
    const sets = fullRewrites(ctx.size);
    return async () => {
      const pass = ctx.cursors['c-upsert-many'] ?? 0;
      const r = h.coll.upsertMany(sets[pass & 1]);
      if (r instanceof Promise) await r;
      ctx.cursors['c-upsert-many'] = pass + 1;
      return ctx.size;
    };
  },
};
