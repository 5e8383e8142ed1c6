import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../store.js';
import type { Driver, WriteOp } from '../drivers/driver.js';
import { StrataError } from '../errors.js';
import type { DriverFactory } from './harness.js';

/**
 * TTL sweeping: `purgeExpired(now, limit)` removes at most `limit` expired records per call
 * (repeated calls remove the rest, live records are never touched), stats count expired
 * records apart until they are gone, and the store's `purgeExpired()` sweeps all of them in
 * chunks. Stats take no clock, so expiry is real time here: records are written "in the past".
 */
export function expirySuite(factory: DriverFactory): void {
  describe('expiry sweep', () => {
    const withDriver = async (fn: (driver: Driver, reopen: () => Promise<Driver>) => Promise<void>): Promise<void> => {
      const location = await mkdtemp(join(tmpdir(), 'strata-conf-expiry-'));
      let driver = await factory(location);
      try {
        await fn(driver, async () => {
          await driver.close();
          driver = await factory(location);
          return driver;
        });
      } finally {
        await driver.close();
        await rm(location, { recursive: true, force: true });
      }
    };
    const past = () => Date.now() - 60_000;
    const puts = (space: string, prefix: string, n: number, expiresAt: number | null): WriteOp[] =>
      Array.from({ length: n }, (_, i) => ({ type: 'put', space, key: `${prefix}${i}`, value: `{"i":${i}}`, expiresAt }));
    const usage = async (driver: Driver) => {
      const spaces = (await driver.stats()).spaces.filter((s) => s.space === 'kv.ttl' || s.space === 'c.ttl');
      return {
        records: spaces.reduce((n, s) => n + s.records, 0),
        expired: spaces.some((s) => s.expired !== undefined) ? spaces.reduce((n, s) => n + (s.expired ?? 0), 0) : undefined,
      };
    };

    it('purgeExpired(now, limit) removes at most limit per call, across spaces, and never a live record', async () => {
      await withDriver(async (driver, reopen) => {
        const then = past();
        await driver.ensureSpace('kv.ttl', {});
        await driver.ensureSpace('c.ttl', {});
        await driver.batch(
          [
            ...puts('kv.ttl', 'gone', 7, then + 1),
            ...puts('c.ttl', 'gone', 5, then + 1),
            ...puts('kv.ttl', 'live', 2, null),
            ...puts('c.ttl', 'later', 1, Date.now() + 3_600_000),
          ],
          then,
        );
        const before = await usage(driver);
        expect(before.records).toBe(3);
        if (before.expired !== undefined) expect(before.expired).toBe(12);

        const now = Date.now();
        expect(await driver.purgeExpired(now, 5)).toBe(5);
        const partway = await usage(driver);
        expect(partway.records).toBe(3);
        if (partway.expired !== undefined) expect(partway.expired).toBe(7);
        expect(await driver.purgeExpired(now, 5)).toBe(5);
        expect(await driver.purgeExpired(now, 5)).toBe(2);
        expect(await driver.purgeExpired(now, 5)).toBe(0);

        const after = await usage(driver);
        expect(after.records).toBe(3);
        if (after.expired !== undefined) expect(after.expired).toBe(0);
        expect((await driver.get('kv.ttl', 'live1', now))?.value).toBe('{"i":1}');
        expect(await driver.get('c.ttl', 'later0', now)).not.toBeNull();
        // Physically gone: a write over a swept key is a new record, and a reopened store agrees.
        const [rewritten] = await driver.batch(puts('kv.ttl', 'gone', 1, null), now);
        expect(rewritten?.version).toBe(1);
        if (driver.capabilities.persistent) {
          const again = await reopen();
          const reopened = await usage(again);
          expect(reopened.records).toBe(4);
          if (reopened.expired !== undefined) expect(reopened.expired).toBe(0);
          expect(await again.purgeExpired(Date.now())).toBe(0);
        }
      });
    });

    // The sqlite driver writes puts without expiry through statements that leave expires_at
    // alone when the stored row has none, and writes rows that have one again in full (in
    // groups of 16, a group's tail and single reported puts): every driver must end in the same
    // records, whatever mix of stored expiries, repeated keys and group boundaries a batch meets.
    it('puts without expiry over records with and without one: versions, values and expiry as if written one by one', async () => {
      await withDriver(async (driver, reopen) => {
        const then = past();
        const soon = Date.now() + 3_600_000;
        await driver.ensureSpace('kv.mix', {});
        // 40 stored records: every third expired, every third live with an expiry, the rest without.
        const stored = Array.from({ length: 40 }, (_, i) => ({
          key: `m${String(i).padStart(2, '0')}`,
          expiresAt: i % 3 === 0 ? then + 1 : i % 3 === 1 ? soon : null,
        }));
        await driver.batch(
          stored.map(({ key, expiresAt }) => ({ type: 'put', space: 'kv.mix', key, value: '"v0"', expiresAt })),
          then,
        );
        // Overwrite twice, once quietly (grouped) and once reporting: 52 puts each, none with an
        // expiry; the first 16 repeat keys of each kind among themselves, the last ones repeat
        // keys of earlier groups, and 5 keys are new.
        const now = Date.now();
        const m = (i: number) => `m${String(i).padStart(2, '0')}`;
        const first = [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4].map(m);
        const rest = Array.from({ length: 32 }, (_, i) => m(i + 8));
        const keys = [...first, 'n0', 'n1', 'n2', ...rest, 'n3', 'n4', m(39), m(38), m(0), m(9), m(10)];
        const expected = new Map<string, number>();
        for (const { key, expiresAt } of stored) expected.set(key, expiresAt !== null && expiresAt <= now ? 0 : 1);
        for (const [pass, results] of [
          [1, false],
          [2, true],
        ] as const) {
          const ops: WriteOp[] = keys.map((key, i) => ({
            type: 'put',
            space: 'kv.mix',
            key,
            value: `"p${pass}-${i}"`,
            expiresAt: null,
          }));
          const out = await driver.batch(ops, now, { results });
          for (let i = 0; i < keys.length; i++) {
            const version = (expected.get(keys[i]!) ?? 0) + 1;
            expected.set(keys[i]!, version);
            if (results) expect(out[i]?.version, `${keys[i]} in pass ${pass}`).toBe(version);
          }
        }
        const check = async (d: Driver) => {
          const last = new Map(keys.map((key, i) => [key, `"p2-${i}"`]));
          for (const [key, version] of expected) {
            const record = await d.get('kv.mix', key, Date.now());
            expect(record, key).not.toBeNull();
            expect({ key, value: record!.value, version: record!.version, expiresAt: record!.expiresAt }).toEqual({
              key,
              value: last.get(key),
              version,
              expiresAt: null,
            });
          }
          // Nothing is left to expire: none of them carries an expiry any more.
          expect(await d.purgeExpired(Date.now() + 10 * 3_600_000)).toBe(0);
          expect((await d.verify()).ok).toBe(true);
        };
        await check(driver);
        if (driver.capabilities.persistent) await check(await reopen());
      });
    });

    it('a limit that is not a positive integer is BAD_INPUT', async () => {
      await withDriver(async (driver) => {
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          const error = await driver.purgeExpired(Date.now(), limit).catch((e: unknown) => e);
          expect(StrataError.is(error, 'BAD_INPUT'), `limit ${limit}`).toBe(true);
        }
      });
    });

    it('store.purgeExpired() sweeps every expired record in chunks and reports how many', async () => {
      await withDriver(async (driver) => {
        const then = past();
        await driver.ensureSpace('kv.ttl', {});
        for (let i = 0; i < 5; i++) await driver.batch(puts('kv.ttl', `gone${i}-`, 1_000, then + 1), then, { results: false });
        await driver.batch(puts('kv.ttl', 'live', 3, null), then);
        const store = await openStore({ driver, sweepInterval: false });
        expect(await store.purgeExpired()).toBe(5_000);
        expect(await store.purgeExpired()).toBe(0);
        const [space] = (await store.stats()).kv;
        expect(space).toMatchObject({ name: 'ttl', records: 3 });
        if (space?.expired !== undefined) expect(space.expired).toBe(0);
        expect(await store.kv('ttl').count()).toBe(3);
        await store.close();
      });
    });
  });
}
