// Keyset paging on the indexed field: pages of 50 `status: 'success'` documents in key
// order, each resuming from the previous page's cursor, starting over at the end.
// Counted in pages.

const LIMIT = 50;

/** @type {import('./types.mjs').Workload} */
export default {
  id: 'c-page',
  title: "collection page status='success' (50/page)",
  unit: 'pages/s',
  needs: 'coll',
  step(h, ctx) {
    return async (n) => {
      let cursor = ctx.cursors['c-page'] ?? null;
      for (let i = 0; i < n; i++) {
        let page = h.coll.page('success', cursor, LIMIT);
        if (page instanceof Promise) page = await page;
        if (page.items.length === 0 || (page.next !== null && page.items.length !== LIMIT)) {
          throw new Error(`c-page: a page of ${page.items.length} documents`);
        }
        cursor = page.next;
      }
      ctx.cursors['c-page'] = cursor;
      return n;
    };
  },
};
