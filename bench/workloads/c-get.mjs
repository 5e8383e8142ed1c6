// Random point reads of existing documents by key (collection.get vs SELECT + JSON.parse).

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'c-get',
  title: 'collection get',
  unit: 'gets/s',
  needs: 'coll',
  step(h, ctx) {
    return async (n) => {
      let cursor = ctx.cursors['c-get'] ?? 0;
      let misses = 0;
      for (let i = 0; i < n; i++, cursor++) {
        let doc = h.coll.get(ctx.keys[ctx.picks[cursor & 65535]]);
        if (doc instanceof Promise) doc = await doc;
        if (doc == null) misses++;
      }
      ctx.cursors['c-get'] = cursor;
      if (misses > 0) throw new Error(`c-get: ${misses} existing documents read as missing`);
      return n;
    };
  },
};
