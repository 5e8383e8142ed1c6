import { describe, expect, it } from 'vitest';
import { TransactionDriver } from '../../src/transaction.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import { parseFilter } from '../../src/query/parse.js';
import type { ScanQuery, WriteOp } from '../../src/drivers/driver.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';
import { rng } from '../rng.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NOW = 1_000;

describe('scans inside a transaction', () => {
  it('see committed records merged with the transaction own writes, page by page', async () => {
    const r = rng(4242);
    for (let trial = 0; trial < 40; trial++) {
      const base = memoryDriver();
      const expected = memoryDriver();
      const key = (): string => `${['a', 'b', 'ab'][Math.floor(r() * 3)]}${Math.floor(r() * 60)}`;
      const put = (space: string, k: string): WriteOp => ({
        type: 'put',
        space,
        key: k,
        value: JSON.stringify({ n: Math.floor(r() * 4) }),
        expiresAt: r() < 0.1 ? NOW - 1 : null,
      });
      const seed = Array.from({ length: 80 }, () => put(r() < 0.8 ? 's' : 'o', key()));
      await base.batch(seed, NOW);
      await expected.batch(seed, NOW);
      const tx = new TransactionDriver(base);
      for (let step = 0; step < 30; step++) {
        const roll = r();
        if (roll < 0.5) {
          const ops = Array.from({ length: 1 + Math.floor(r() * 3) }, (): WriteOp => {
            const space = r() < 0.85 ? 's' : 'o';
            return r() < 0.3 ? { type: 'delete', space, key: key() } : put(space, key());
          });
          await tx.batch(ops, NOW);
          await expected.batch(ops, NOW);
        } else if (roll < 0.7) {
          const k = key();
          expect((await tx.get('s', k, NOW))?.value).toEqual((await expected.get('s', k, NOW))?.value);
        } else {
          const f = [undefined, { n: { $gte: 2 } }, { n: 0 }][Math.floor(r() * 3)];
          const query: ScanQuery = {
            filter: f === undefined ? undefined : parseFilter(f),
            prefix: r() < 0.3 ? 'a' : undefined,
          };
          const context = JSON.stringify({ trial, step, query });
          // The walk first: a whole scan would put every committed match in the overlay.
          const whole = (await expected.scan('s', query, NOW)).map((x) => [x.key, x.value]);
          const size = 1 + Math.floor(r() * 7);
          const walked: string[][] = [];
          let after: ScanQuery['after'];
          for (;;) {
            const page = await tx.scan('s', { ...query, after, limit: size }, NOW);
            walked.push(...page.map((x) => [x.key, x.value]));
            if (page.length < size) break;
            after = { key: page[page.length - 1]!.key };
          }
          expect(walked, context).toEqual(whole);
          if (r() < 0.3) {
            expect(
              (await tx.scan('s', query, NOW)).map((x) => [x.key, x.value]),
              context,
            ).toEqual(whole);
          }
        }
      }
      // Nothing changed underneath: every recorded scan still matches, so the commit lands.
      await tx.commit(NOW);
      for (const space of ['s', 'o']) {
        expect((await base.scan(space, {}, NOW)).map((x) => [x.key, x.value])).toEqual(
          (await expected.scan(space, {}, NOW)).map((x) => [x.key, x.value]),
        );
      }
    }
  });

  it('conflict at commit when a record appears in, leaves or changes in a range scanned', async () => {
    const seed: WriteOp[] = ['a1', 'a3', 'b1'].map((key) => ({
      type: 'put',
      space: 's',
      key,
      value: '{"n":1}',
      expiresAt: null,
    }));
    const changes: WriteOp[] = [
      { type: 'put', space: 's', key: 'a2', value: '{"n":1}', expiresAt: null }, // appears
      { type: 'delete', space: 's', key: 'a3' }, // leaves (also a key the scan saw)
      { type: 'put', space: 's', key: 'a1', value: '{"n":2}', expiresAt: null }, // changes
    ];
    const scans: ScanQuery[] = [{ prefix: 'a' }, { filter: parseFilter({ n: 1 }) }, { limit: 5 }];
    for (const change of changes) {
      for (const query of scans) {
        const base = memoryDriver();
        await base.batch(seed, NOW);
        const tx = new TransactionDriver(base);
        await tx.scan('s', query, NOW);
        await tx.batch([{ type: 'put', space: 'o', key: 'out', value: '1', expiresAt: null }], NOW);
        await base.batch([change], NOW);
        await expect(tx.commit(NOW), JSON.stringify({ change, query })).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await base.get('o', 'out', NOW)).toBeNull();
      }
    }
    // A change outside the range (or in another space) is no conflict.
    const base = memoryDriver();
    await base.batch(seed, NOW);
    const tx = new TransactionDriver(base);
    await tx.scan('s', { prefix: 'a' }, NOW);
    await base.batch([{ type: 'put', space: 's', key: 'b2', value: '1', expiresAt: null }], NOW);
    await tx.commit(NOW);
  });

  it('validates a read-only transaction on a read-only SQLite file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-tx-ro-'));
    try {
      const path = join(dir, 'ro.db');
      const writer = sqliteDriver({ path });
      await writer.batch([{ type: 'put', space: 's', key: 'a', value: '1', expiresAt: null }], NOW);
      await writer.close();
      const ro = sqliteDriver({ path, readonly: true });
      const tx = new TransactionDriver(ro);
      await tx.get('s', 'a', NOW);
      await tx.get('never', 'x', NOW);
      await tx.scan('s', {}, NOW);
      await tx.scan('never', {}, NOW);
      await tx.commit(NOW);
      await ro.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
