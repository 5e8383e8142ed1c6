// Seeded differential fuzz of collection filters, sorts, limits/offsets, count and page walks
// across memory:, sqlite: and file:, plus a reference evaluator written from the documented
// semantics (README.md "Collections" / Filters, docs/array-filters.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../rng.js';
import { DRIVERS, openAll, seed, outcome, ids, walk, type Env } from './harness.js';
import type { DriverName, LooseCollection } from './harness.js';

const SEED = Number(process.env.STRATA_TEST_SEED ?? 20261202);
const N_DOCS = 240;
const N_FILTERS = Number(process.env.STRATA_QUERY_FILTERS ?? 100);

const r = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const chance = (p: number) => r() < p;

const STRINGS = [
  '',
  'a',
  'A',
  'b',
  'B',
  'ab',
  'Ab',
  'abc',
  'é',
  'e\u0301',
  'z',
  'Z',
  '😀',
  '😀x',
  '\uffff',
  'ｱ',
  '10',
  '2',
  '-1',
  '1e3',
  '0',
  'true',
  'null',
  '2024-01-01T00:00:00.000Z',
  '2024-06-15',
  '2023-12-31T23:59:59.999Z',
  '[1]',
  '{"a":1}',
  '[',
  '\\',
  'work',
  'home',
  '\u0000',
  'a\u0000b',
  '\n',
  '"',
  '\u2028',
  'Ω',
  'ß',
  'SS',
  '\u{10FFFF}',
  ' a',
  'a ',
];
const RANDOM_DOUBLES = Array.from(
  { length: 12 },
  (_, i) => (i % 2 ? -1 : 1) * Number((rng(SEED + i)() * 10 ** (i % 7)).toPrecision(17)),
);
const NUMBERS = [
  ...RANDOM_DOUBLES,
  0.1 + 0.2,
  1 / 3,
  2 ** 53 + 2,
  1152921504606847000,
  -9223372036854775808,
  2 ** 63,
  1e19,
  5e-324,
  1.7976931348623157e308,
  0,
  1,
  -1,
  2,
  0.5,
  -0.5,
  1.5,
  10,
  100,
  -100,
  2 ** 53,
  2 ** 53 - 1,
  -(2 ** 53),
  2 ** 60,
  1e21,
  1e-7,
  3.14159,
  42,
];
const DATES = [new Date('2024-01-01T00:00:00.000Z'), new Date('2023-05-05T05:05:05.005Z'), new Date('2025-12-31T00:00:00.000Z')];

function scalar(): unknown {
  const k = r();
  if (k < 0.3) return pick(STRINGS);
  if (k < 0.6) return pick(NUMBERS);
  if (k < 0.7) return pick([true, false]);
  if (k < 0.78) return null;
  if (k < 0.82) return -0;
  return pick(DATES);
}
function value(depth = 0): unknown {
  const k = r();
  if (depth > 2 || k < 0.6) return scalar();
  if (k < 0.8) {
    const n = Math.floor(r() * 4);
    return Array.from({ length: n }, () => value(depth + 1));
  }
  const o: Record<string, unknown> = {};
  for (const f of ['x', 'y']) if (chance(0.6)) o[f] = value(depth + 1);
  return o;
}
function doc(i: number): Record<string, unknown> {
  const d: Record<string, unknown> = { id: `k${String(i).padStart(3, '0')}` };
  if (chance(0.85)) d.a = scalar();
  if (chance(0.8)) d.b = chance(0.3) ? value(1) : scalar();
  if (chance(0.7))
    d.tags = chance(0.8)
      ? Array.from({ length: Math.floor(r() * 4) }, () => pick([...STRINGS.slice(0, 12), 1, 2, null, true]))
      : scalar();
  if (chance(0.7)) {
    const c: Record<string, unknown> = {};
    if (chance(0.8)) c.d = chance(0.2) ? value(2) : scalar();
    if (chance(0.5)) c.e = value(1);
    d.c = chance(0.15) ? [c, { d: scalar() }] : c;
  }
  if (chance(0.6))
    d.items = Array.from({ length: Math.floor(r() * 3) }, () =>
      chance(0.85) ? { sku: chance(0.2) ? [scalar()] : scalar(), n: scalar() } : scalar(),
    );
  if (chance(0.5)) d.n = pick(NUMBERS);
  if (chance(0.5)) d.s = pick(STRINGS);
  if (chance(0.3))
    d.o = chance(0.5)
      ? { '0': scalar(), '1': value(1) }
      : [[{ p: { q: [{ r: scalar() }] } }], { p: [{ q: { r: scalar() } }, { q: [[{ r: 1 }]] }] }];
  if (chance(0.2)) d['a-b'] = scalar();
  if (chance(0.2)) d.$x = scalar();
  return d;
}

const DOCS = Array.from({ length: N_DOCS }, (_, i) => doc(i));
const PATHS = [
  'a',
  'b',
  'tags',
  'c.d',
  'c.e',
  'c.e.x',
  'items.sku',
  'items.n',
  'n',
  's',
  'missing',
  'c',
  'items',
  'b.x',
  'c.d.x',
  'o.0',
  'o.1',
  'tags.0',
  'o.p.q.r',
  'o.p.q',
  'o.1.x',
  'a-b',
  'items.sku.x',
  'c.e.x.y.z',
];
const ORDERED_PATHS = ['a', 'b', 'n', 's', 'c.d', 'tags', 'items.sku'];

function operandValue(): unknown {
  const k = r();
  if (k < 0.85) return scalar();
  if (k < 0.93) return pick([[], ['a'], ['a', 'b'], [1, 2], [null]]);
  return pick([{}, { x: 'a' }, { x: 1, y: 2 }]);
}
function ordered(): string | number | Date {
  const k = r();
  if (k < 0.45) return pick(STRINGS);
  if (k < 0.9) return pick(NUMBERS);
  return pick(DATES);
}
function fieldSpec(): unknown {
  const k = r();
  if (k < 0.15) return operandValue();
  const ops: Record<string, unknown> = {};
  const n = 1 + (chance(0.25) ? 1 : 0);
  for (let i = 0; i < n; i++) {
    const op = pick(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$prefix', '$all', '$size']);
    switch (op) {
      case '$eq':
      case '$ne':
        ops[op] = operandValue();
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        ops[op] = ordered();
        break;
      case '$in':
      case '$nin':
        ops[op] = Array.from({ length: chance(0.15) ? 70 + Math.floor(r() * 30) : Math.floor(r() * 4) }, operandValue);
        break;
      case '$exists':
        ops[op] = chance(0.5);
        break;
      case '$prefix':
        ops[op] = pick(['', 'a', 'A', '2024', '😀', 'e', '1', '[', 'wo']);
        break;
      case '$all':
        ops[op] = Array.from({ length: Math.floor(r() * 3) }, () => pick([...STRINGS.slice(0, 8), 1, 2, null, true]));
        break;
      case '$size':
        ops[op] = pick([0, 1, 2, 3]);
        break;
    }
  }
  return ops;
}
function filter(depth = 0): Record<string, unknown> {
  const k = r();
  if (depth < 2 && k < 0.12) return { $or: Array.from({ length: 1 + Math.floor(r() * 3) }, () => filter(depth + 1)) };
  if (depth < 2 && k < 0.2) return { $and: Array.from({ length: 1 + Math.floor(r() * 3) }, () => filter(depth + 1)) };
  const f: Record<string, unknown> = {};
  const n = k < 0.9 ? 1 : 2;
  for (let i = 0; i < n; i++) f[pick(PATHS)] = fieldSpec();
  return f;
}
function sort(): Record<string, 1 | -1> | undefined {
  if (chance(0.2)) return undefined;
  const s: Record<string, 1 | -1> = {};
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) s[pick(ORDERED_PATHS)] = chance(0.5) ? 1 : -1;
  return s;
}

// ---------- Reference evaluator, from docs/array-filters.md ----------
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** "A path reaches values through objects and, below the top level, through arrays" */
function reach(d: unknown, path: string[]): unknown[] {
  let cur: unknown[] = [d];
  path.forEach((seg, i) => {
    const next: unknown[] = [];
    for (const v of cur) {
      const from = i > 0 && Array.isArray(v) ? v : [v];
      for (const e of from) if (isObj(e) && Object.hasOwn(e, seg)) next.push(e[seg]);
    }
    cur = next;
  });
  return cur;
}
/** "Equality of objects and arrays is by JSON value: object keys in any order, array elements in order." */
function jeq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jeq(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a),
      kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jeq(a[k], b[k]));
  }
  return false;
}
const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
function cps(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!),
    y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
function eqHolds(vals: unknown[], v: unknown): boolean {
  if (v === null) return vals.length === 0 || vals.some((x) => x === null || (Array.isArray(x) && x.includes(null)));
  return vals.some((x) => jeq(x, v) || (Array.isArray(x) && x.some((e) => jeq(e, v))));
}
function refMatch(f: Record<string, unknown>, d: unknown): boolean {
  return Object.entries(f).every(([k, spec]) => {
    if (k === '$and') return (spec as Array<Record<string, unknown>>).every((g) => refMatch(g, d));
    if (k === '$or') return (spec as Array<Record<string, unknown>>).some((g) => refMatch(g, d));
    const vals = reach(d, k.split('.'));
    const isOps = isObj(spec) && Object.keys(spec).length > 0 && Object.keys(spec).every((o) => o.startsWith('$'));
    if (!isOps) return eqHolds(vals, norm(spec));
    return Object.entries(spec as Record<string, unknown>).every(([op, raw]) => {
      const v = norm(raw);
      const some = (t: (x: unknown) => boolean) => vals.some((x) => t(x) || (Array.isArray(x) && x.some(t)));
      switch (op) {
        case '$eq':
          return eqHolds(vals, v);
        case '$ne':
          return !eqHolds(vals, v);
        case '$in':
          return (v as unknown[]).some((w) => eqHolds(vals, w));
        case '$nin':
          return !(v as unknown[]).some((w) => eqHolds(vals, w));
        case '$exists':
          return vals.length > 0 === v;
        case '$size':
          return vals.some((x) => Array.isArray(x) && x.length === v);
        case '$prefix':
          return some((x) => typeof x === 'string' && x.startsWith(v as string));
        case '$all':
          return (v as unknown[]).length > 0 && (v as unknown[]).every((w) => eqHolds(vals, w));
        default: {
          const c = (x: unknown) =>
            typeof x !== typeof v ? NaN : typeof x === 'number' ? x - (v as number) : cps(x as string, v as string);
          const t = {
            $gt: (n: number) => n > 0,
            $gte: (n: number) => n >= 0,
            $lt: (n: number) => n < 0,
            $lte: (n: number) => n <= 0,
          }[op]!;
          return some((x) => {
            const n = c(x);
            return !Number.isNaN(n) && t(n);
          });
        }
      }
    });
  });
}

/** README: "Mixed types sort as null < numbers < strings." and "Sorting on an array field orders by the array's JSON text" */
function getTop(d: unknown, path: string[]): unknown {
  let cur: unknown = d;
  for (const seg of path) {
    if (!isObj(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = cur[seg];
  }
  return cur;
}
function documentedSortable(v: unknown): boolean {
  return v === undefined || v === null || typeof v === 'number' || typeof v === 'string' || Array.isArray(v);
}
function refCompare(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (v === undefined || v === null ? 0 : typeof v === 'number' ? 1 : 2);
  const ra = rank(a),
    rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return (a as number) - (b as number);
  if (ra === 2) return cps(typeof a === 'string' ? a : JSON.stringify(a), typeof b === 'string' ? b : JSON.stringify(b));
  return 0;
}
function refSort(docs: Array<{ id: string }>, s: Record<string, 1 | -1> | undefined): string[] | null {
  const spec = Object.entries(s ?? {}).map(([k, dir]) => ({ path: k.split('.'), dir }));
  for (const d of docs) for (const sp of spec) if (!documentedSortable(getTop(d, sp.path))) return null;
  return [...docs]
    .sort((x, y) => {
      for (const sp of spec) {
        const c = refCompare(getTop(x, sp.path), getTop(y, sp.path));
        if (c !== 0) return c * sp.dir;
      }
      return cps(x.id, y.id);
    })
    .map((d) => d.id);
}

const show = (x: unknown) => JSON.stringify(x, (_k, v) => (v instanceof Date ? `Date(${v.toISOString()})` : v));

describe(`query fuzz, seed ${SEED}`, () => {
  let env: Env;
  const colls: Record<string, Record<DriverName, LooseCollection>> = {};
  beforeAll(async () => {
    env = await openAll();
    colls.indexed = await seed(env, 'fz_indexed', DOCS, ['a', 'b', 'tags', 'c.d', 'n', 's']);
    colls.plain = await seed(env, 'fz_plain', DOCS, []);
  }, 60_000);
  afterAll(async () => env?.dispose());

  it('every driver, collection and the documented semantics agree (before and after writes)', async () => {
    let stored = norm(DOCS) as Array<{ id: string }>;
    const problems: string[] = [];
    const stats = { checked: 0, selective: 0, ordered: 0 };
    await run(N_FILTERS, 0);
    // Writes: arrays appear in fields that held none (indexed `a`, `n`, `s`), documents go away.
    const docs = norm(DOCS) as Array<Record<string, unknown>>;
    const changed: Array<Record<string, unknown>> = [];
    for (const d of docs) {
      if (!chance(0.2)) continue;
      const nd = {
        ...d,
        a: chance(0.5) ? [scalar(), scalar()] : { x: scalar() },
        n: chance(0.5) ? [pick(NUMBERS)] : pick(NUMBERS),
        s: chance(0.5) ? [pick(STRINGS), pick(STRINGS)] : pick(STRINGS),
      };
      changed.push(norm(nd) as Record<string, unknown>);
    }
    const gone = docs.filter(() => chance(0.1)).map((d) => d.id as string);
    for (const cname of Object.keys(colls))
      for (const d of DRIVERS) {
        await colls[cname]![d].upsertMany(changed);
        await colls[cname]![d].deleteWhere({ id: { $in: gone } });
      }
    const byId = new Map(docs.map((d) => [d.id as string, d]));
    for (const c of changed) byId.set(c.id as string, c);
    for (const g of gone) byId.delete(g);
    stored = [...byId.values()].sort((x, y) => cps(x.id as string, y.id as string)) as Array<{ id: string }>;
    await run(Math.floor(N_FILTERS / 2), N_FILTERS);
    // Reopened from disk (sqlite:, file:), with the same declarations.
    await env.reopen();
    for (const d of ['sqlite', 'file'] as const) {
      colls.indexed![d] = env.stores[d].collection('fz_indexed', {
        key: 'id',
        indexes: ['a', 'b', 'tags', 'c.d', 'n', 's'],
      } as never) as unknown as LooseCollection;
      colls.plain![d] = env.stores[d].collection('fz_plain', { key: 'id' } as never) as unknown as LooseCollection;
    }
    await run(Math.floor(N_FILTERS / 3), 2 * N_FILTERS);
    console.log('fuzz stats', JSON.stringify(stats));
    if (problems.length) console.log(problems.slice(0, 60).join('\n'));
    expect(problems).toEqual([]);

    async function run(n: number, from: number) {
      for (let i = from; i < from + n; i++) {
        const f = filter();
        const s = sort();
        const limit = chance(0.4) ? Math.floor(r() * 20) : undefined;
        const offset = chance(0.3) ? Math.floor(r() * 30) : undefined;
        const pageSize = 1 + Math.floor(r() * 25);
        const expected = stored
          .filter((d) => refMatch(f, d))
          .map((d) => d.id)
          .sort();
        const answers: Record<string, unknown> = {};
        for (const cname of Object.keys(colls)) {
          for (const d of DRIVERS) {
            const c = colls[cname]![d];
            const all = await outcome(async () => ids(await c.query(f, { sort: s })));
            const lim = await outcome(async () => ids(await c.query(f, { sort: s, limit, offset })));
            const cnt = await outcome(() => c.count(f));
            const pages = await outcome(() => walk(c, f, s, pageSize));
            const it = await outcome(async () => {
              const out: string[] = [];
              for await (const x of c.iterate(f, { sort: s, pageSize })) out.push(x.id);
              return out;
            });
            const tag = `${cname}/${d}`;
            answers[tag] = { all, lim, cnt, pages, it };
            if (show((it as { ok?: unknown }).ok) !== show((all as { ok?: unknown }).ok))
              problems.push(`#${i} ${tag} iterate != query filter=${show(f)} sort=${show(s)}`);
            const a = (all as { ok?: unknown }).ok as string[] | undefined;
            if (!a) {
              problems.push(`#${i} ${tag} query failed ${show(all)} filter=${show(f)}`);
              continue;
            }
            if (show([...a].sort()) !== show(expected)) {
              const extra = a.filter((x) => !expected.includes(x)),
                missing = expected.filter((x) => !a.includes(x));
              problems.push(`#${i} ${tag} vs reference: extra=${show(extra)} missing=${show(missing)} filter=${show(f)}`);
            }
            const refOrder = refSort(
              stored.filter((d) => expected.includes(d.id)),
              s,
            );
            stats.checked++;
            if (expected.length > 0 && expected.length < stored.length) stats.selective++;
            if (refOrder && s && expected.length > 1) stats.ordered++;
            if (refOrder && show([...a].sort()) === show(expected) && show(refOrder) !== show(a))
              problems.push(`#${i} ${tag} order differs from documented sort ${show(s)}: got=${show(a)} ref=${show(refOrder)}`);
            if ((cnt as { ok?: unknown }).ok !== a.length)
              problems.push(`#${i} ${tag} count ${show(cnt)} != query length ${a.length} filter=${show(f)}`);
            if (show((pages as { ok?: unknown }).ok) !== show(a))
              problems.push(
                `#${i} ${tag} page walk (limit ${pageSize}) != query, filter=${show(f)} sort=${show(s)} pages=${show(pages)} query=${show(a)}`,
              );
            const sl = a.slice(offset ?? 0, limit === undefined ? undefined : (offset ?? 0) + limit);
            if (show((lim as { ok?: unknown }).ok) !== show(sl))
              problems.push(
                `#${i} ${tag} limit ${limit}/offset ${offset} != slice of query, filter=${show(f)} sort=${show(s)} got=${show(lim)} slice=${show(sl)}`,
              );
          }
        }
        const base = show(answers['indexed/memory']);
        for (const [tag, ans] of Object.entries(answers)) {
          if (show(ans) !== base)
            problems.push(
              `#${i} ${tag} differs from indexed/memory: filter=${show(f)} sort=${show(s)}\n   memory=${base}\n   ${tag}=${show(ans)}`,
            );
        }
      }
    }
  }, 120_000);
});
