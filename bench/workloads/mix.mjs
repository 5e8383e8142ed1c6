// 90% random gets, 10% durable sets of random existing keys.

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'mix',
  title: 'mix 90% get / 10% set',
  unit: 'ops/s',
  slow: true,
  step(h, ctx) {
    return async (n) => {
      let cursor = ctx.cursors.mix ?? 0;
      for (let i = 0; i < n; i++, cursor++) {
        const key = ctx.keys[ctx.picks[cursor & 65535]];
        // The value shifts on every pass over the picks, so a key never gets its own value back.
        const r = cursor % 10 === 9 ? h.set(key, ctx.values[(cursor + (cursor >>> 16) * 7) & 1023]) : h.get(key);
        if (r instanceof Promise) await r;
      }
      ctx.cursors.mix = cursor;
      return n;
    };
  },
};
