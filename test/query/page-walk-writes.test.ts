// Seeded check of the page-walk promise under concurrent writes, on every driver.
// README.md "Collections": "A page walk returns every document that is not written during the
// walk exactly once, in order, whatever others insert, delete or update meanwhile".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../rng.js';
import { DRIVERS, openAll, seed, type Env } from './harness.js';

const SEED = Number(process.env.STRATA_TEST_SEED ?? 99);
const VALUES = [null, 0, 1, -1, 2.5, 2 ** 53, 'a', 'B', '', 'é', '😀', true, false, [1], ['a', 'b'], { x: 1 }];

describe(`page walks under writes, seed ${SEED}`, () => {
  let env: Env;
  beforeAll(async () => {
    env = await openAll();
  });
  afterAll(async () => env?.dispose());
  for (const indexed of [true, false]) {
    it(`untouched documents come exactly once, in order (indexes: ${indexed})`, async () => {
      const r = rng(SEED + (indexed ? 1 : 0));
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
      const mk = (id: string) => {
        const d: Record<string, unknown> = { id };
        if (r() < 0.8) d.f = pick(VALUES);
        if (r() < 0.8) d.g = pick(VALUES);
        return d;
      };
      const docs = Array.from({ length: 120 }, (_, i) => mk(`d${String(i).padStart(3, '0')}`));
      const colls = await seed(env, `pw_${indexed}`, docs, indexed ? ['f', 'g'] : []);
      const problems: string[] = [];
      for (let round = 0; round < 12; round++) {
        const sort = { f: r() < 0.5 ? 1 : -1, ...(r() < 0.6 ? { g: r() < 0.5 ? 1 : -1 } : {}) } as Record<string, 1 | -1>;
        const filter = r() < 0.5 ? {} : { f: { $ne: pick(VALUES) } };
        const limit = 1 + Math.floor(r() * 9);
        // The same write schedule on every driver.
        const plan = Array.from({ length: 40 }, (_, i) => ({ ins: mk(`n${round}_${i}`), del: Math.floor(r() * 120) }));
        for (const d of DRIVERS) {
          const c = colls[d];
          const before: Array<{ id: string }> = await c.query(filter, { sort });
          const touched = new Set<string>();
          const seen: string[] = [];
          let cursor: string | null | undefined;
          let step = 0;
          do {
            const p = await c.page(filter, { sort, limit, cursor });
            seen.push(...p.items.map((x: { id: string }) => x.id));
            cursor = p.next;
            const w = plan[step++ % plan.length]!;
            await c.upsert(w.ins);
            touched.add(w.ins.id as string);
            const victim = before[w.del % Math.max(1, before.length)]?.id;
            if (victim && !touched.has(victim)) {
              await c.delete(victim);
              touched.add(victim);
            }
          } while (cursor);
          const expected = before.map((x) => x.id).filter((id) => !touched.has(id));
          const got = seen.filter((id) => !touched.has(id));
          if (JSON.stringify(got) !== JSON.stringify(expected))
            problems.push(
              `${d} round ${round} sort=${JSON.stringify(sort)} filter=${JSON.stringify(filter)} limit=${limit}: got ${got.length} expected ${expected.length}`,
            );
          // restore: put back deleted, remove inserted
          for (const id of touched) {
            const orig = docs.find((x) => x.id === id);
            if (orig) await c.upsert(orig);
            else await c.delete(id);
          }
        }
      }
      expect(problems).toEqual([]);
    }, 60_000);
  }
});
