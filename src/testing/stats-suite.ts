import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeHarness, type DriverFactory } from './harness.js';

/**
 * Driver `stats(now)`: `records` counts live records only; expired ones not yet swept are in
 * `expired` when the driver reports it; `bytes` are the UTF-8 bytes of the live records' keys
 * and values, so the same records measure the same on every driver. Expiry is judged at the
 * `now` given (the store passes its clock), at the wall clock without one.
 */
export function statsSuite(factory: DriverFactory): void {
  describe('driver stats', () => {
    it('counts live records, and expired ones apart until they are swept', async () => {
      const location = await mkdtemp(join(tmpdir(), 'strata-conf-stats-'));
      const driver = await factory(location);
      try {
        const past = Date.now() - 60_000;
        const put = (key: string, expiresAt: number | null) =>
          ({ type: 'put', space: 'kv.s', key, value: '1', expiresAt }) as const;
        await driver.batch([put('live', null), put('later', Date.now() + 3_600_000), put('gone', past + 1)], past);
        const space = (await driver.stats()).spaces.find((s) => s.space === 'kv.s');
        expect(space?.records).toBe(2);
        if (space?.expired !== undefined) expect(space.expired).toBe(1);
        expect(await driver.purgeExpired(Date.now())).toBe(1);
        const swept = (await driver.stats()).spaces.find((s) => s.space === 'kv.s');
        expect(swept?.records).toBe(2);
        if (swept?.expired !== undefined) expect(swept.expired).toBe(0);
      } finally {
        await driver.close();
        await rm(location, { recursive: true, force: true });
      }
    });

    it('bytes are the UTF-8 bytes of live keys and values, expiry judged at the now given', async () => {
      const location = await mkdtemp(join(tmpdir(), 'strata-conf-stats-'));
      const driver = await factory(location);
      try {
        const t = Date.UTC(2030, 0, 1);
        const put = (key: string, value: string, expiresAt: number | null = null) =>
          ({ type: 'put', space: 'kv.b', key, value, expiresAt }) as const;
        // 6 + 11 UTF-8 bytes (2 + 5 UTF-16 units), 4 + 8 bytes (one emoji is 2 units, 4 bytes).
        const live = [put('日本', '"語語語"'), put('😀', '"😀ok"')];
        const later = put('later', '"x"', t + 60_000);
        await driver.batch([...live, later], t);
        const bytes = (records: ReadonlyArray<{ key: string; value: string }>): number =>
          records.reduce((n, r) => n + Buffer.byteLength(r.key, 'utf8') + Buffer.byteLength(r.value, 'utf8'), 0);
        const at = async (now: number) => (await driver.stats(now)).spaces.find((s) => s.space === 'kv.b');
        expect(await at(t)).toMatchObject({ records: 3, bytes: bytes([...live, later]) });
        // Past the ttl by the clock given, though not by the wall clock: expired, its bytes gone.
        const expired = await at(t + 60_000);
        expect(expired).toMatchObject({ records: 2, bytes: bytes(live) });
        if (expired?.expired !== undefined) expect(expired.expired).toBe(1);
      } finally {
        await driver.close();
        await rm(location, { recursive: true, force: true });
      }
    });

    it("store.stats() and the gauges judge expiry by the store's clock, as count() does", async () => {
      const h = await makeHarness(factory);
      try {
        // Ahead of the wall clock, so only the store's clock can tell that the ttl has passed.
        h.clock.now = Date.now() + 365 * 86_400_000;
        const kv = h.store.kv('t');
        await kv.set('stays', 1);
        await kv.set('goes', 1, { ttl: 1000 });
        h.clock.advance(5000);
        expect(await kv.count()).toBe(1);
        const stats = await h.store.stats();
        expect(stats.kv.find((s) => s.name === 't')).toMatchObject({ records: 1 });
        const text = await h.store.metrics();
        expect(text).toMatch(/^strata_records\{space="kv\.t"\} 1$/m);
        if (stats.expired !== undefined) expect(text).toMatch(/^strata_expired_records\{space="kv\.t"\} 1$/m);
      } finally {
        await h.dispose();
      }
    });
  });
}
