// Batch writes: BATCH records per call (setMany / one raw transaction). Counted in records.

export const BATCH = 1000;

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'batch-set',
  title: `batch set (${BATCH}/batch)`,
  unit: 'records/s',
  slow: true,
  step(h, ctx) {
    return async (n) => {
      let cursor = ctx.cursors['batch-set'] ?? 0;
      const batches = Math.max(1, Math.round(n / BATCH));
      for (let b = 0; b < batches; b++) {
        const entries = new Array(BATCH);
        for (let i = 0; i < BATCH; i++, cursor++) entries[i] = [ctx.keys[cursor % ctx.size], ctx.values[(cursor + 512) & 1023]];
        const r = h.setMany(entries);
        if (r instanceof Promise) await r;
      }
      ctx.cursors['batch-set'] = cursor;
      return batches * BATCH;
    };
  },
};
