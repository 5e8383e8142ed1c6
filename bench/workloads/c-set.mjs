// Sequential durable upserts of existing documents (collection.upsert vs one autocommit
// INSERT ... ON CONFLICT per document), walking the key space; each pass writes the other
// of two rewrites, so no write stores the bytes already there.
import { fullRewrites } from '../lib/data.mjs';

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'c-set',
  title: 'collection durable set (upsert)',
  unit: 'sets/s',
  needs: 'coll',
  slow: true,
  step(h, ctx) {
    const sets = fullRewrites(ctx.size);
    return async (n) => {
      let cursor = ctx.cursors['c-set'] ?? 0;
      for (let i = 0; i < n; i++, cursor++) {
        const r = h.coll.upsert(sets[Math.floor(cursor / ctx.size) & 1][cursor % ctx.size]);
        if (r instanceof Promise) await r;
      }
      ctx.cursors['c-set'] = cursor;
      return n;
    };
  },
};
