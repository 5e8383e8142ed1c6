import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanDigest } from '../drivers/scan-digest.js';
import { parseFilter } from '../query/parse.js';
import type { ScanQuery, WriteOp } from '../drivers/driver.js';
import { makeHarness, type DriverFactory, type Harness } from './harness.js';
import { expectCode } from './kv-suite.js';

/**
 * `store.transaction` is serializable: point reads and scans are validated at commit,
 * read-only transactions included. Each test lets a plain (non-transaction) write land
 * between two reads of the first attempt, the way a concurrent process would, and checks
 * that the attempt is rerun rather than committed or returned.
 */
export function transactionSuite(factory: DriverFactory): void {
  describe('transactions (serializable)', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await makeHarness(factory);
    });
    afterEach(async () => {
      await h.dispose();
    });

    const move = async (from: string, to: string): Promise<void> => {
      const kv = h.store.kv<number>('acct');
      await h.store.driver.batch(
        [
          { type: 'put', space: 'kv.acct', key: from, value: JSON.stringify(((await kv.get(from)) ?? 0) - 100), expiresAt: null },
          { type: 'put', space: 'kv.acct', key: to, value: JSON.stringify(((await kv.get(to)) ?? 0) + 100), expiresAt: null },
        ],
        h.clock.now,
      );
    };

    const seedAccounts = (): Promise<void> =>
      h.store.kv('acct').setMany([
        ['a', 100],
        ['b', 0],
      ]);

    it('validates a read-only transaction: a sum read across a concurrent move is rerun', async () => {
      await seedAccounts();
      let attempts = 0;
      const sum = await h.store.transaction(async (tx) => {
        attempts++;
        const a = (await tx.kv<number>('acct').get('a'))!;
        if (attempts === 1) await move('a', 'b');
        const b = (await tx.kv<number>('acct').get('b'))!;
        return a + b;
      });
      expect(sum).toBe(100);
      expect(attempts).toBe(2);
    });

    it('reruns a function that threw after reading an inconsistent state', async () => {
      await seedAccounts();
      let attempts = 0;
      const sum = await h.store.transaction(async (tx) => {
        attempts++;
        const a = (await tx.kv<number>('acct').get('a'))!;
        if (attempts === 1) await move('a', 'b');
        const b = (await tx.kv<number>('acct').get('b'))!;
        if (a + b !== 100) throw new Error(`invariant broken: ${a + b}`);
        return a + b;
      });
      expect(sum).toBe(100);
      expect(attempts).toBe(2);
      // A function that throws on a consistent state is not rerun.
      attempts = 0;
      await expect(
        h.store.transaction(async (tx) => {
          attempts++;
          await tx.kv('acct').get('a');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(attempts).toBe(1);
    });

    it('commits a read-only transaction at once when nothing it read changed', async () => {
      const docs = h.store.collection('docs', { indexes: ['n'] });
      await docs.insertMany(Array.from({ length: 20 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}`, n: i % 5 })));
      await h.store.kv('other').set('x', 1);
      let attempts = 0;
      const out = await h.store.transaction(async (tx) => {
        attempts++;
        const c = tx.collection<{ id: string; n: number }>('docs');
        const q = await c.query({ n: { $gte: 3 } }, { sort: { n: -1 }, limit: 3 });
        const page = await c.page({}, { limit: 5 });
        const next = await c.page({}, { limit: 5, cursor: page.next! });
        const keys = await tx.kv('other').list();
        // A write to a space it did not read does not touch what it read.
        if (attempts === 1) await h.store.kv('unrelated').set('y', 2);
        return { q: q.map((d) => d.id), n: page.items.length + next.items.length, keys, count: await c.count({ n: 0 }) };
      });
      expect(out.q).toEqual(['d04', 'd09', 'd14']);
      expect(out.n).toBe(10);
      expect(out.count).toBe(4);
      expect(out.keys).toEqual(['x']);
      expect(attempts).toBe(1);
    });

    it('prevents phantoms: "at most 3 slots" never ends with 4', async () => {
      const slots = h.store.collection('slots');
      await slots.insertMany([{ id: 's1' }, { id: 's2' }]);
      let attempts = 0;
      const took = await h.store.transaction(async (tx) => {
        attempts++;
        const c = tx.collection('slots');
        const n = await c.count();
        if (attempts === 1) await slots.insert({ id: 'other' }); // another process takes the third slot
        if (n >= 3) return false;
        await c.insert({ id: `mine${attempts}` });
        return true;
      });
      expect(took).toBe(false);
      expect(attempts).toBe(2);
      expect(await slots.count()).toBe(3);
    });

    it('detects a record removed from, or changed in, a range it scanned', async () => {
      const kv = h.store.kv<number>('q');
      await kv.setMany([
        ['job:1', 1],
        ['job:2', 2],
        ['job:3', 3],
      ]);
      for (const interfere of [() => kv.delete('job:2'), () => kv.set('job:3', 30)]) {
        let attempts = 0;
        await h.store.transaction(async (tx) => {
          attempts++;
          const listed = await tx.kv('q').list({ prefix: 'job:' });
          if (attempts === 1) await interfere();
          await tx.kv('q').set('summary', listed.length);
        });
        expect(attempts).toBe(2);
      }
      expect(await kv.get('summary')).toBe(2);
    });

    it('detects a record deleted and written again at the same version (point read and scan)', async () => {
      // Delete + set starts a key at version 1 again, at the same (fake) clock time: only the
      // content tells the new record from the one the transaction read.
      const recreate = async (key: string, value: number): Promise<void> => {
        const kv = h.store.kv<number>('acct');
        await kv.delete(key);
        await kv.set(key, value);
      };
      await seedAccounts();
      let attempts = 0;
      const sum = await h.store.transaction(async (tx) => {
        attempts++;
        const a = (await tx.kv<number>('acct').get('a'))!;
        if (attempts === 1) {
          await recreate('a', 0);
          await recreate('b', 100);
        }
        const b = (await tx.kv<number>('acct').get('b'))!;
        return a + b;
      });
      expect(sum).toBe(100);
      expect(attempts).toBe(2);

      await seedAccounts();
      attempts = 0;
      const listed = await h.store.transaction(async (tx) => {
        attempts++;
        const all = await tx.kv<number>('acct').entries();
        const out: number[] = [];
        for await (const [, v] of all) out.push(v);
        if (attempts === 1) await recreate('a', 7);
        await tx.kv('acct').set('seen', out.length);
        return out;
      });
      expect(attempts).toBe(2);
      expect(listed).toEqual([7, 0]);
    });

    it('kv.update and write ops with a stamp refuse a record deleted and written anew at the same version', async () => {
      const kv = h.store.kv<number>('n');
      await kv.set('n', 1);
      let calls = 0;
      await kv.delete('n');
      await kv.set('n', 1);
      const out = await kv.update('n', async (v) => {
        calls++;
        if (calls === 1) {
          await kv.delete('n');
          await kv.set('n', 100);
        }
        return v! + 1;
      });
      expect(out).toBe(101);
      expect(calls).toBe(2);

      const old = (await h.store.driver.get('kv.n', 'n', h.clock.now))!;
      expect(old.stamp).toBeTypeOf('number');
      await kv.delete('n');
      await kv.set('n', 5);
      const now = (await h.store.driver.get('kv.n', 'n', h.clock.now))!;
      expect(now.version).toBe(1); // deleted and written anew: version 1 again
      const stale = { expect: now.version, stamp: old.stamp! };
      for (const op of [
        { type: 'put', space: 'kv.n', key: 'n', value: '6', expiresAt: null, ...stale },
        { type: 'delete', space: 'kv.n', key: 'n', ...stale },
        { type: 'check', space: 'kv.n', key: 'n', ...stale },
      ] satisfies WriteOp[]) {
        await expectCode(
          h.store.driver.batch([op, { type: 'put', space: 'kv.n', key: 'other', value: '1', expiresAt: null }], h.clock.now),
          'CONFLICT',
        );
        expect(await kv.get('n')).toBe(5);
        expect(await kv.has('other')).toBe(false);
      }
      // The stamp of the write as read lets each through.
      await h.store.driver.batch(
        [{ type: 'check', space: 'kv.n', key: 'n', expect: now.version, stamp: now.stamp! }],
        h.clock.now,
      );
      const [put] = await h.store.driver.batch(
        [{ type: 'put', space: 'kv.n', key: 'n', value: '6', expiresAt: null, expect: now.version, stamp: now.stamp! }],
        h.clock.now,
      );
      await h.store.driver.batch(
        [{ type: 'delete', space: 'kv.n', key: 'n', expect: put!.version, stamp: put!.stamp! }],
        h.clock.now,
      );
      expect(await kv.has('n')).toBe(false);
    });

    it('checkScan in a batch: CONFLICT writes nothing; a matching digest lets the batch through', async () => {
      const kv = h.store.kv('c');
      await kv.setMany([
        ['a1', { n: 1 }],
        ['a2', { n: 2 }],
        ['b1', { n: 1 }],
      ]);
      const queries: ScanQuery[] = [
        { prefix: 'a' },
        { filter: parseFilter({ n: 1 }) },
        { after: { key: 'a1' }, limit: 1 },
        { prefix: 'zzz' },
      ];
      const put: WriteOp = { type: 'put', space: 'kv.c', key: 'w', value: '1', expiresAt: null };
      for (const query of queries) {
        const digest = scanDigest(await h.store.driver.scan('kv.c', query, h.clock.now));
        await expectCode(
          h.store.driver.batch([{ type: 'checkScan', space: 'kv.c', key: '', query, expect: `${digest}x` }, put], h.clock.now),
          'CONFLICT',
        );
        expect(await kv.has('w')).toBe(false);
      }
      for (const query of queries) {
        const digest = scanDigest(await h.store.driver.scan('kv.c', query, h.clock.now));
        await h.store.driver.batch([{ type: 'checkScan', space: 'kv.c', key: '', query, expect: digest }], h.clock.now);
      }
      // A scan of a space nobody wrote yet is the empty digest.
      await h.store.driver.batch(
        [{ type: 'checkScan', space: 'kv.never', key: '', query: {}, expect: scanDigest([]) }, put],
        h.clock.now,
      );
      expect(await kv.has('w')).toBe(true);
      expect(await h.store.names()).toEqual({ kv: ['c'], collections: [] });
    });

    it('refuses handles used after the transaction ended (CLOSED)', async () => {
      let kept: { kv: ReturnType<typeof h.store.kv>; c: ReturnType<typeof h.store.collection> } | undefined;
      await h.store.transaction(async (tx) => {
        kept = { kv: tx.kv('k'), c: tx.collection('c') };
        await kept.kv.set('in', 1);
      });
      await expectCode(kept!.kv.set('after', 2), 'CLOSED');
      await expectCode(kept!.kv.get('in'), 'CLOSED');
      await expectCode(kept!.c.insert({ id: 'x' }), 'CLOSED');
      await expectCode(kept!.c.query({}), 'CLOSED');
      expect(await h.store.kv('k').get('after')).toBeNull();
      expect(await h.store.collection('c').count()).toBe(0);
      await expect(
        h.store.transaction(async (tx) => {
          kept = { kv: tx.kv('k'), c: tx.collection('c') };
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await expectCode(kept!.kv.set('thrown', 1), 'CLOSED');

      // After a transaction, a new one from a callback it scheduled is fine.
      let later: Promise<number> | undefined;
      await h.store.transaction(async () => {
        later = new Promise((resolve) => setTimeout(resolve, 0)).then(() =>
          h.store.transaction(async (tx) => tx.kv<number>('k').incr('n')),
        );
      });
      expect(await later).toBe(1);
    });

    it('commits a write the function started but did not await, or refuses it (CLOSED): never loses it silently', async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) {
        let pending: Promise<unknown> | undefined;
        await h.store.transaction(async (tx) => {
          await tx.kv('k').get('warm');
          pending = tx.kv('k').set(`w${i}`, i);
          // Handled, so an unhandled rejection does not fail the run; checked below.
          pending.catch(() => {});
        });
        const outcome = await pending!.then(
          () => 'ok',
          (e: unknown) => (e as { code?: string }).code ?? 'other',
        );
        expect(['ok', 'CLOSED']).toContain(outcome);
        expect(await h.store.kv('k').has(`w${i}`)).toBe(outcome === 'ok');
        outcomes.push(outcome);
      }
    });

    it('counts an expiry between the scan and the commit as a change', async () => {
      const kv = h.store.kv('ttl');
      await kv.set('a', 1, { ttl: 1_000 });
      await kv.set('b', 1);
      let attempts = 0;
      const n = await h.store.transaction(async (tx) => {
        attempts++;
        const keys = await tx.kv('ttl').list();
        if (attempts === 1) h.clock.advance(2_000);
        return keys.length;
      });
      expect(n).toBe(1);
      expect(attempts).toBe(2);
    });
  });
}
