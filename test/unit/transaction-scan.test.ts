import { describe, expect, it } from 'vitest';
import { TransactionDriver } from '../../src/transaction.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import { parseFilter } from '../../src/query/parse.js';
import type { ScanQuery, WriteOp } from '../../src/drivers/driver.js';
import { rng } from '../rng.js';

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
    }
  });
});
