import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DriverFactory } from './harness.js';

/**
 * Driver `stats()`: `records` counts live records only; expired ones not yet swept are in
 * `expired` when the driver reports it. Stats take no clock, so expiry is real time here.
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
  });
}
