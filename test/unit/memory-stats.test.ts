import { describe, expect, it } from 'vitest';
import { memoryDriver } from '../../src/drivers/memory.js';

describe('memory driver stats', () => {
  it('counts live records only and reports expired ones not yet swept', async () => {
    const driver = memoryDriver();
    const now = Date.now();
    await driver.batch(
      [
        { type: 'put', space: 's', key: 'live', value: '1', expiresAt: null },
        { type: 'put', space: 's', key: 'later', value: '1', expiresAt: now + 60_000 },
        { type: 'put', space: 's', key: 'soon', value: '1', expiresAt: now + 20 },
      ],
      now,
    );
    await new Promise((r) => setTimeout(r, 40));
    expect((await driver.stats()).spaces).toEqual([expect.objectContaining({ space: 's', records: 2, expired: 1 })]);
    await driver.purgeExpired(Date.now());
    expect((await driver.stats()).spaces).toEqual([expect.objectContaining({ space: 's', records: 2, expired: 0 })]);
  });
});
