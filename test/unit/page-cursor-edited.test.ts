import { describe, expect, it } from 'vitest';
import { DRIVERS, opened, codeOf } from '../store-fixture.js';

/**
 * README.md:262-265: "a cursor is bound to its filter and sort, and to its collection: a
 * cursor of another collection, filter or sort, or one that was altered or cut, is
 * `BAD_INPUT`."
 *
 * A cursor is base64url JSON `{ v, k, q }`, `q` a digest of collection, filter, sort and the
 * position (`v`, `k`): a position changed and re-encoded (it once paged silently from a
 * place no page ended at), or the same body re-encoded otherwise, is refused.
 */
describe.each(DRIVERS)('%s: page cursors', (d) => {
  it('an altered cursor (its sort values or key changed) is BAD_INPUT, not a page from elsewhere', async () => {
    const o = await opened(d);
    try {
      const c = o.store.collection('p');
      await c.insertMany(['a', 'b', 'c', 'd', 'e'].map((id, n) => ({ id, n })));
      const first = await c.page({}, { sort: { n: 1 }, limit: 2 });
      expect(first.items.map((x) => x.id)).toEqual(['a', 'b']);
      const body = JSON.parse(Buffer.from(first.next!, 'base64url').toString('utf8')) as { v: unknown[]; k: string; q: string };
      const encode = (b: unknown): string => Buffer.from(JSON.stringify(b), 'utf8').toString('base64url');
      const page = (cursor: string) => c.page({}, { sort: { n: 1 }, limit: 2, cursor });
      // The untouched cursor works.
      expect((await page(first.next!)).items.map((x) => x.id)).toEqual(['c', 'd']);
      // Altered: the sort value moved forward (skips "c"), changed type, and the key changed.
      expect(await codeOf(page(encode({ ...body, v: [3] })))).toBe('BAD_INPUT');
      expect(await codeOf(page(encode({ ...body, v: ['zz'] })))).toBe('BAD_INPUT');
      expect(await codeOf(page(encode({ ...body, k: 'd' })))).toBe('BAD_INPUT');
    } finally {
      await o.dispose();
    }
  });
});
