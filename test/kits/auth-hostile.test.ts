// Hostile input to the auth kit that its other tests did not reach: a clock that returns a
// finite number no Date can hold (it used to give sessions and codes Invalid Dates, and
// silently decide expiry on nonsense), an OAuth payload with a "__proto__" key (refused by the
// store everywhere else, but the kit seals payloads itself), and the distribution of the
// secrets it makes: one-time code symbols uniform per position, session tokens distinct and
// with balanced bits.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { OAuthStateStore, OtpStore, SessionStore, TokenStore } from '../../src/kits/auth/index.js';
import { code } from './auth-helpers.js';

const KEYS = `k1:${Buffer.alloc(32, 9).toString('base64')}`;
let store: Store;
beforeEach(async () => {
  store = await openStore({ url: 'memory:', sweepInterval: false, encryption: { keys: KEYS } });
});
afterEach(async () => {
  await store.close();
});

describe('a clock outside the range of Date', () => {
  it.each([1e300, 8.64e15, -8.64e15, Number.MAX_SAFE_INTEGER])('%d is BAD_INPUT on the call that reads it', async (t) => {
    const clock = () => t;
    const sessions = new SessionStore(store, { clock, sliding: true });
    const otp = new OtpStore(store, { clock });
    const states = new OAuthStateStore(store, { clock });
    const tokens = new TokenStore(store, { clock });
    expect(await code(() => sessions.create('ann'))).toBe('BAD_INPUT');
    expect(await code(() => otp.issue('ann'))).toBe('BAD_INPUT');
    expect(await code(() => states.create({ a: 1 }))).toBe('BAD_INPUT');
    expect(await code(() => tokens.persistAccessToken('tok', { ttl: '1h' }))).toBe('BAD_INPUT');
    // Nothing was written.
    for (const ns of ['auth.sessions', 'auth.otp', 'auth.oauth-state', 'auth.tokens']) expect(await store.kv(ns).count()).toBe(0);
  });

  it('times before 1970 and far ahead, within range, still work', async () => {
    for (const t of [-5, Date.UTC(2200, 0, 1)]) {
      const sessions = new SessionStore(store, { clock: () => t });
      const { token, session } = await sessions.create('ann');
      expect(session.createdAt.getTime()).toBe(t);
      expect((await sessions.get(token))?.id).toBe(session.id);
    }
  });
});

describe('OAuth state payloads', () => {
  it('a payload with a "__proto__" key is BAD_INPUT, at any depth; nothing is stored', async () => {
    const states = new OAuthStateStore(store);
    for (const payload of [
      JSON.parse('{"__proto__":{"admin":true}}') as unknown,
      JSON.parse('{"a":[{"b":{"__proto__":{"admin":true}}}]}') as unknown,
    ]) {
      expect(await code(() => states.create(payload))).toBe('BAD_INPUT');
    }
    expect(await store.kv('auth.oauth-state').count()).toBe(0);
    // A key merely named like it is fine.
    const state = await states.create({ proto: 1, constructor: 'x' });
    expect(await states.consume(state)).toEqual({ ok: true, payload: { proto: 1, constructor: 'x' } });
  });
});

/** Pearson's chi-square statistic of `counts` against a uniform distribution. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe('the secrets the kit makes', () => {
  it('one-time code symbols are uniform at every position (alphabet of 7: no modulo bias)', async () => {
    const alphabet = 'ABCDEFG';
    const otp = new OtpStore(store, { alphabet, length: 16 });
    const perPosition = Array.from({ length: 16 }, () => new Array<number>(alphabet.length).fill(0));
    const all = new Array<number>(alphabet.length).fill(0);
    const codes = new Set<string>();
    for (let i = 0; i < 700; i++) {
      const { code: c } = await otp.issue(`user${i}`);
      expect(c).toMatch(/^[A-G]{16}$/);
      codes.add(c);
      [...c].forEach((symbol, p) => {
        perPosition[p]![alphabet.indexOf(symbol)]!++;
        all[alphabet.indexOf(symbol)]!++;
      });
    }
    expect(codes.size).toBe(700);
    // 6 degrees of freedom: above 40 has a chance below 1e-6 for a uniform source.
    expect(chiSquare(all)).toBeLessThan(40);
    for (const counts of perPosition) expect(chiSquare(counts)).toBeLessThan(40);
  });

  it('session tokens are distinct, 43 base64url characters, with balanced bits', async () => {
    const sessions = new SessionStore(store);
    const tokens = new Set<string>();
    let ones = 0;
    for (let i = 0; i < 500; i++) {
      const { token } = await sessions.create(`user${i % 10}`);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      tokens.add(token);
      for (const byte of Buffer.from(token, 'base64url')) for (let b = byte; b > 0; b >>= 1) ones += b & 1;
    }
    expect(tokens.size).toBe(500);
    const bits = 500 * 32 * 8;
    // 128,000 fair bits: the count of ones is within 6 standard deviations (~1,073) of half.
    expect(Math.abs(ones - bits / 2)).toBeLessThan(6 * Math.sqrt(bits / 4));
  });
});

describe('foreign data in the code namespace', () => {
  it('a code record whose hash is not 32 bytes of base64url is CORRUPT, not a TypeError', async () => {
    const otp = new OtpStore(store);
    await otp.issue('ann');
    const kv = store.kv<Record<string, unknown>>('auth.otp');
    const [key] = await kv.list();
    const record = (await kv.get(key!))!;
    await kv.set(key!, { ...record, hash: `${'!'.repeat(42)}A` });
    expect(await code(() => otp.verify('ann', '123456'))).toBe('CORRUPT');
  });
});

describe('sliding renewal', () => {
  it('two renewals at once from clocks a few seconds apart never move the expiry back', async () => {
    const T = Date.UTC(2026, 0, 1);
    const at = (ms: number) => new SessionStore(store, { sliding: true, ttl: '1h', maxAge: '1d', clock: () => T + ms });
    for (let i = 0; i < 10; i++) {
      const { token } = await at(0).create('ann');
      const [later, earlier] = await Promise.all([at(10_000).get(token), at(5_000).get(token)]);
      const stored = (await at(6_000).get(token))!;
      expect(stored.expiresAt.getTime()).toBe(T + 10_000 + 3_600_000);
      expect(later!.expiresAt.getTime()).toBe(T + 10_000 + 3_600_000);
      expect(earlier!.expiresAt.getTime()).toBeGreaterThanOrEqual(T + 5_000 + 3_600_000);
    }
  });
});
