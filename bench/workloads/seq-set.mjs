// Sequential durable sets: one awaited write after another, walking the key space and
// overwriting existing records with values that differ from the stored ones.

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'seq-set',
  title: 'sequential durable set',
  unit: 'sets/s',
  slow: true,
  step(h, ctx) {
    return async (n) => {
      let cursor = ctx.cursors['seq-set'] ?? 0;
      for (let i = 0; i < n; i++, cursor++) {
        const r = h.set(ctx.keys[cursor % ctx.size], ctx.values[cursor & 1023]);
        if (r instanceof Promise) await r;
      }
      ctx.cursors['seq-set'] = cursor;
      return n;
    };
  },
};
