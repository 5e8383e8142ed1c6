// A million expired records on SQLite: the sweep removes them all in bounded chunks and the
// event loop never stalls meanwhile. A 1 ms interval probe records the longest gap between
// its ticks during the sweep. The bound (750 ms) is generous on purpose: this catches a sweep
// that holds the loop for seconds (one unbounded DELETE), not a slow machine.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sqliteDriver } from '../../src/drivers/sqlite.js';
import type { WriteOp } from '../../src/drivers/driver.js';
import { openStore } from '../../src/index.js';
import { tempDir } from './helpers.js';

const RECORDS = 1_000_000;
const BATCH = 20_000;
const MAX_GAP_MS = 750;

describe('the TTL sweep on a million expired records', () => {
  it(`removes them all without an event-loop gap over ${MAX_GAP_MS} ms`, async () => {
    const dir = await tempDir('sweep-stall');
    try {
      const driver = sqliteDriver({ path: join(dir.path, 'big.db') });
      const then = Date.now() - 60_000;
      await driver.ensureSpace('kv.sessions', {});
      for (let start = 0; start < RECORDS; start += BATCH) {
        const ops: WriteOp[] = [];
        for (let i = start; i < start + BATCH; i++) {
          ops.push({ type: 'put', space: 'kv.sessions', key: `s${i}`, value: '{"user":"u1"}', expiresAt: then + 1 });
        }
        await driver.batch(ops, then, { results: false });
      }
      await driver.batch([{ type: 'put', space: 'kv.sessions', key: 'live', value: '1', expiresAt: null }], then);
      const store = await openStore({ driver, sweepInterval: false });
      try {
        expect((await store.stats()).kv[0]).toMatchObject({ records: 1, expired: RECORDS });

        let last = performance.now();
        let longest = 0;
        const probe = setInterval(() => {
          const t = performance.now();
          longest = Math.max(longest, t - last);
          last = t;
        }, 1);
        let removed: number;
        const started = performance.now();
        try {
          last = performance.now();
          removed = await store.purgeExpired();
        } finally {
          clearInterval(probe);
        }
        const took = performance.now() - started;
        console.log(`swept ${removed} records in ${Math.round(took)} ms; longest event-loop gap ${longest.toFixed(1)} ms`);

        expect(removed).toBe(RECORDS);
        expect(longest).toBeLessThan(MAX_GAP_MS);
        expect((await store.stats()).kv[0]).toMatchObject({ records: 1, expired: 0 });
        expect(await store.kv('sessions').get('live')).toBe(1);
      } finally {
        await store.close();
      }
    } finally {
      await dir.dispose();
    }
  }, 120_000);
});
