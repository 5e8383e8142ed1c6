// crash atomicity of an ENCRYPTED store on the file driver (encrypted kv, setMany
// batches, transactions, short TTLs with purges, compaction every 8 KiB), SIGKILLed at seeded
// random moments, one round in eight while it is still opening.
import { afterAll, describe, expect, it } from 'vitest';
import { Child, rng, script, sleep, strata, tempDir } from './helpers.js';

const { openStore } = strata;
const KEY = 'k1:' + Buffer.alloc(32, 42).toString('base64');
const ROUNDS = Number(process.env.STRATA_TEST_ROUNDS ?? 25);
const SEED = Number(process.env.STRATA_TEST_SEED ?? 20260101);
const dir = tempDir('enc-crash', true);
afterAll(() => dir.dispose());

type Effect = Record<string, unknown>;
const canon = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : 1)))
      : x,
  ) ?? 'undefined';

describe('file driver + encryption: SIGKILL while writing', () => {
  // README.md: "Crash safety is tested, not promised: a child process writing in a loop is
  // killed with SIGKILL at random moments ... every acknowledged write must be there after
  // reopening, with `verify()` clean." and (Transactions) "All or nothing".
  // Seeded (STRATA_TEST_SEED), so a failure reproduces.
  it(`${ROUNDS} kills of an encrypted writer: acknowledged writes kept, no half batch, verify clean`, async () => {
    const random = rng(SEED);
    const model = new Map<string, unknown>();
    for (let round = 1; round <= ROUNDS; round++) {
      const seed = Math.floor(random() * 2 ** 32);
      const ctx = `round ${round} (child seed ${seed}, STRATA_TEST_SEED ${SEED})`;
      const child = new Child(script('enc-crash-writer.mjs'), [dir.path, String(round), String(seed)]);
      try {
        if (round % 8 === 3) await sleep(30 + random() * 150);
        else {
          await child.waitFor((l) => l === 'R', 30_000);
          await sleep(20 + random() * 200);
        }
      } finally {
        child.kill();
      }
      const exit = await child.exited;
      expect(exit.signal, `${ctx}: ${child.stderr}`).toBe('SIGKILL');
      const pending = new Map<number, Effect>();
      const acked: Effect[] = [];
      for (const line of child.lines) {
        if (line.startsWith('W ')) {
          const sp = line.indexOf(' ', 2);
          pending.set(Number(line.slice(2, sp)), JSON.parse(line.slice(sp + 1)) as Effect);
        } else if (line.startsWith('A ')) {
          const n = Number(line.slice(2));
          acked.push(pending.get(n)!);
          pending.delete(n);
        }
      }
      for (const e of acked) for (const [k, v] of Object.entries(e)) model.set(k, v);
      const inFlight = [...pending.values()][0];
      const store = await openStore({ url: `file:${dir.path}`, encryption: { keys: KEY }, sweepInterval: false });
      try {
        const report = await store.verify();
        expect(report.issues, `${ctx}: verify`).toEqual([]);
        const kv = store.kv('sec', { encrypt: true });
        const check = async (k: string, want: unknown): Promise<boolean> => {
          const got = await kv.get(k);
          if (want === 'EXPIRES') return got === null || typeof got === 'object';
          return canon(got) === canon(want ?? null);
        };
        if (inFlight) {
          const entries = Object.entries(inFlight);
          const applied = await Promise.all(entries.map(([k, v]) => check(k, v)));
          const before = await Promise.all(entries.map(([k]) => check(k, model.get(k) ?? null)));
          const all = applied.every(Boolean);
          const none = before.every(Boolean);
          expect(all || none, `${ctx}: in-flight write half applied ${canon(inFlight)}`).toBe(true);
          if (all && !none) for (const [k, v] of entries) model.set(k, v);
        }
        for (const [k, v] of model) expect(await check(k, v), `${ctx}: key ${k}`).toBe(true);
        const ta = ((await kv.get('t.a')) as number | null) ?? 1000;
        const tb = ((await kv.get('t.b')) as number | null) ?? 0;
        expect(ta + tb, `${ctx}: transaction invariant`).toBe(1000);
      } finally {
        await store.close();
      }
    }
  }, 120_000);
});
