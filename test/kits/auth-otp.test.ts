// stratadb/kits/auth one-time codes: 6 characters from the CSPRNG, stored as a salted HMAC,
// 10 minutes by the injected clock, at most 5 attempts (counted atomically, so racing guesses
// share them), used up on success, replaced by a new issue.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtpStore, type OtpResult } from '../../src/kits/auth/index.js';
import { join } from 'node:path';
import { fileDriver } from '../../src/drivers/file/index.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';
import { openStore } from '../../src/index.js';
import { code, DRIVERS, filesContaining, MINUTE, rawDump, START, testStore, urlFor, type TestStore } from './auth-helpers.js';

/** A code of the same shape that is not `right`. */
const wrong = (right: string, i = 0): string => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0');

for (const driver of DRIVERS)
  describe(`one-time codes on ${driver}`, () => {
    let t: TestStore;
    beforeEach(async () => {
      t = await testStore(driver);
    });
    afterEach(async () => {
      await t.dispose();
    });

    it('issues 6-digit codes that verify once', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const issued = await otp.issue('ann@example.com');
      expect(issued.code).toMatch(/^[0-9]{6}$/);
      expect(issued.expiresAt).toEqual(new Date(START + 10 * MINUTE));
      expect(await otp.verify('ann@example.com', issued.code)).toEqual({ ok: true });
      expect(await otp.verify('ann@example.com', issued.code)).toEqual({ ok: false, reason: 'missing' });
      expect(await otp.verify('bob@example.com', issued.code)).toEqual({ ok: false, reason: 'missing' });
      expect(await t.store.kv('auth.otp').count()).toBe(0);
    });

    it('brute force stops at 5: the 6th attempt, with the right code, is refused', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const { code: right } = await otp.issue('ann');
      const results: OtpResult[] = [];
      for (let i = 0; i < 5; i++) results.push(await otp.verify('ann', wrong(right, i)));
      expect(results).toEqual([4, 3, 2, 1, 0].map((attemptsLeft) => ({ ok: false, reason: 'invalid', attemptsLeft })));
      expect(await otp.verify('ann', right)).toEqual({ ok: false, reason: 'locked' });
      expect(await otp.verify('ann', right)).toEqual({ ok: false, reason: 'locked' });
    });

    it('the right code on the 5th attempt still works', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const { code: right } = await otp.issue('ann');
      for (let i = 0; i < 4; i++) await otp.verify('ann', wrong(right, i));
      expect(await otp.verify('ann', right)).toEqual({ ok: true });
    });

    it('parallel guesses share the 5 attempts: exactly 5 are compared', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const { code: right } = await otp.issue('ann');
      const guesses = Array.from({ length: 30 }, (_, i) => otp.verify('ann', wrong(right, i)));
      const results = await Promise.all(guesses);
      expect(results.filter((r) => !r.ok && r.reason === 'invalid')).toHaveLength(5);
      expect(results.filter((r) => !r.ok && r.reason === 'locked')).toHaveLength(25);
      expect(await otp.verify('ann', right)).toEqual({ ok: false, reason: 'locked' });
    });

    it('parallel verifications of the right code: exactly one succeeds', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock, maxAttempts: 100 });
      for (let round = 0; round < 10; round++) {
        const { code: right } = await otp.issue('ann');
        const results = await Promise.all(Array.from({ length: 8 }, () => otp.verify('ann', right)));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'missing')).toBe(true);
      }
    });

    it('expires after 10 minutes by default; swept by the store later', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const { code: right } = await otp.issue('ann');
      t.advance(10 * MINUTE - 1);
      const second = await otp.issue('bob');
      expect(await otp.verify('ann', right)).toEqual({ ok: true });
      t.advance(10 * MINUTE);
      expect(await otp.verify('bob', second.code)).toEqual({ ok: false, reason: 'expired' });
      t.advance(2 * 3_600_000);
      expect(await otp.verify('bob', second.code)).toEqual({ ok: false, reason: 'missing' });
    });

    it('a new code replaces the old one (and its attempt count)', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const first = await otp.issue('ann');
      for (let i = 0; i < 5; i++) await otp.verify('ann', wrong(first.code, i));
      let second = await otp.issue('ann');
      while (second.code === first.code) second = await otp.issue('ann');
      expect(await otp.verify('ann', first.code)).toEqual({ ok: false, reason: 'invalid', attemptsLeft: 4 });
      expect(await otp.verify('ann', second.code)).toEqual({ ok: true });
    });

    it('revoke withdraws a code', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const { code: right } = await otp.issue('ann');
      expect(await otp.revoke('ann')).toBe(true);
      expect(await otp.revoke('ann')).toBe(false);
      expect(await otp.verify('ann', right)).toEqual({ ok: false, reason: 'missing' });
    });

    it('a malformed guess counts as an attempt like any wrong one', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock, maxAttempts: 2 });
      const { code: right } = await otp.issue('ann');
      expect(await otp.verify('ann', '')).toEqual({ ok: false, reason: 'invalid', attemptsLeft: 1 });
      expect(await otp.verify('ann', `${right} `)).toEqual({ ok: false, reason: 'invalid', attemptsLeft: 0 });
      expect(await otp.verify('ann', right)).toEqual({ ok: false, reason: 'locked' });
    });

    it('the store holds neither the code nor the subject', async () => {
      const otp = new OtpStore(t.store, { clock: t.clock });
      const issued = [];
      for (let i = 0; i < 5; i++) issued.push({ subject: `user${i}@example.com`, ...(await otp.issue(`user${i}@example.com`)) });
      const { keys, text } = await rawDump(t.store, 'auth.otp');
      expect(keys).toHaveLength(5);
      for (const { subject, code: c } of issued) {
        expect(text).not.toContain(subject);
        // Six digits can occur by chance inside base64: look for the code as a JSON value.
        expect(text).not.toContain(`"${c}"`);
        expect(text).not.toContain(`:${c}`);
        if (driver !== 'memory') expect(filesContaining(t.dir, subject)).toEqual([]);
      }
      const raw = (await t.store.kv<Record<string, unknown>>('auth.otp').get(keys[0]!))!;
      expect(Object.keys(raw).sort()).toEqual(['attempts', 'expiresAt', 'hash', 'id', 'issuedAt', 'salt']);
    });

    it('with a secret, stored hashes and keys depend on it', async () => {
      const secret = 'server-pepper-0123456789abcdef';
      const peppered = new OtpStore(t.store, { clock: t.clock, secret, namespace: 'otp-a' });
      const plain = new OtpStore(t.store, { clock: t.clock, namespace: 'otp-a' });
      const other = new OtpStore(t.store, { clock: t.clock, secret: Buffer.alloc(32, 7), namespace: 'otp-a' });
      const { code: right } = await peppered.issue('ann');
      expect(await plain.verify('ann', right)).toEqual({ ok: false, reason: 'missing' });
      expect(await other.verify('ann', right)).toEqual({ ok: false, reason: 'missing' });
      expect(await peppered.verify('ann', right)).toEqual({ ok: true });
      expect((await rawDump(t.store, 'otp-a')).text).not.toContain(secret);
    });

    it('length, alphabet, attempts and ttl are configurable', async () => {
      const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
      const otp = new OtpStore(t.store, { clock: t.clock, length: 8, alphabet, maxAttempts: 3, ttl: '2m' });
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const { code: c } = await otp.issue(`s${i}`);
        expect(c).toMatch(/^[A-HJ-NP-Z2-9]{8}$/);
        for (const ch of c) seen.add(ch);
      }
      expect(seen.size).toBe(alphabet.length);
      const { code: right } = await otp.issue('ann');
      for (let i = 0; i < 3; i++) await otp.verify('ann', 'AAAAAAA' + String(i));
      expect(await otp.verify('ann', right)).toEqual({ ok: false, reason: 'locked' });
      const late = await otp.issue('bob');
      t.advance(2 * MINUTE);
      expect(await otp.verify('bob', late.code)).toEqual({ ok: false, reason: 'expired' });
    });

    it('refuses bad options and input with BAD_INPUT, never echoing a secret', async () => {
      const bad: unknown[] = [
        { maxAttempts: 0 },
        { maxAttempts: 101 },
        { maxAttempts: 2.5 },
        { length: 3 },
        { length: 17 },
        { alphabet: 'a' },
        { alphabet: 'aab' },
        { alphabet: 'ab c' },
        { alphabet: 5 },
        { ttl: '1y' },
        { secret: 'short-secret' },
        { secret: 12345 },
        { clock: 'now' },
        { maxattempts: 5 },
      ];
      for (const options of bad) {
        expect(await code(() => new OtpStore(t.store, options as never)), JSON.stringify(options)).toBe('BAD_INPUT');
      }
      try {
        new OtpStore(t.store, { secret: 'short-secret' });
      } catch (error) {
        expect(String(error)).not.toContain('short-secret');
        expect(JSON.stringify((error as { details?: unknown }).details)).not.toContain('short-secret');
      }
      const otp = new OtpStore(t.store, { clock: t.clock });
      expect(await code(() => otp.issue(''))).toBe('BAD_INPUT');
      expect(await code(() => otp.issue('\ud800'))).toBe('BAD_INPUT');
      await otp.issue('ann');
      expect(await code(() => otp.verify('ann', 123456 as never))).toBe('BAD_INPUT');
      // A refused call used no attempt.
      expect((await t.store.kv<{ attempts: number }>('auth.otp').entries().next()).value![1].attempts).toBe(0);
    });
  });

// A verification that read a code, while another process used that code up and issued a new
// one: the new code is at version 1 again, like the one read. Taking the attempt must see the
// new code, never write the used one back (which made it verify a second time).
describe.each(['sqlite', 'file'] as const)('a code used up and issued anew during a verification, on %s', (driver) => {
  it('is not brought back: the old code never verifies again and the new one still does', async () => {
    const t = await testStore(driver);
    const other = await openStore({ url: urlFor(driver, t.dir), clock: t.clock, sweepInterval: false });
    const inner =
      driver === 'sqlite' ? sqliteDriver({ path: join(t.dir, 'auth.db') }) : fileDriver({ dir: join(t.dir, 'store') });
    let meanwhile: (() => Promise<void>) | null = null;
    // The first read of a code by this store returns, then the other process acts, then the
    // verification goes on with what it read.
    const slow = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'get') {
          return async (space: string, key: string, now: number) => {
            const record = await target.get(space, key, now);
            const act = space === 'kv.auth.otp' ? meanwhile : null;
            meanwhile = null;
            if (act !== null) await act();
            return record;
          };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const mine = await openStore({ driver: slow, clock: t.clock, sweepInterval: false });
    try {
      const otpOther = new OtpStore(other, { clock: t.clock });
      const otp = new OtpStore(mine, { clock: t.clock });
      const first = await otpOther.issue('ann');
      let second = '';
      meanwhile = async () => {
        expect(await otpOther.verify('ann', first.code)).toEqual({ ok: true });
        second = (await otpOther.issue('ann')).code;
      };
      const result = await otp.verify('ann', first.code);
      expect(second).not.toBe('');
      expect(result).toEqual(first.code === second ? { ok: true } : { ok: false, reason: 'invalid', attemptsLeft: 4 });
      if (first.code !== second) {
        expect(await otp.verify('ann', first.code)).toEqual({ ok: false, reason: 'invalid', attemptsLeft: 3 });
        expect(await otpOther.verify('ann', second)).toEqual({ ok: true });
      }
    } finally {
      await mine.close();
      await other.close();
      await t.dispose();
    }
  });
});
