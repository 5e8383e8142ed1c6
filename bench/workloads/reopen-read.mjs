// Close the store, open it again and read every record (parsed). Counted in records.

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'reopen-read',
  title: 'reopen + read all',
  unit: 'records/s',
  noWarmup: true,
  step(h, ctx) {
    return async () => {
      await ctx.handle().close();
      const fresh = await ctx.target.open(ctx.dir);
      ctx.setHandle(fresh);
      const n = await fresh.readAll();
      if (n !== ctx.size) throw new Error(`reopen-read: ${ctx.target.id} read ${n} of ${ctx.size} records`);
      return n;
    };
  },
};
