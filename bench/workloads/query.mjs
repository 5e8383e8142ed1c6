// Query on an indexed field: every pending deployment (a fixed ~100 of them at any size).
// Strata: collection with `indexes: ['status']`; raw: SQL with an expression index.
import { PENDING } from '../lib/data.mjs';

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'query',
  title: "query status='pending' (indexed)",
  unit: 'queries/s',
  needs: 'query',
  step(h, ctx) {
    return async (n) => {
      for (let i = 0; i < n; i++) {
        let docs = h.query(PENDING);
        if (docs instanceof Promise) docs = await docs;
        if (docs.length !== ctx.pending) throw new Error(`query: got ${docs.length} documents, expected ${ctx.pending}`);
      }
      return n;
    };
  },
};
