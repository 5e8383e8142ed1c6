// Random point reads of existing keys (uniform).

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'random-get',
  title: 'random get',
  unit: 'gets/s',
  step(h, ctx) {
    return async (n) => {
      let cursor = ctx.cursors['random-get'] ?? 0;
      let misses = 0;
      for (let i = 0; i < n; i++, cursor++) {
        let v = h.get(ctx.keys[ctx.picks[cursor & 65535]]);
        if (v instanceof Promise) v = await v;
        if (v == null) misses++;
      }
      ctx.cursors['random-get'] = cursor;
      if (misses > 0) throw new Error(`random-get: ${misses} existing keys read as missing`);
      return n;
    };
  },
};
