// stratadb/kits/auth OAuth state: valid once for 10 minutes by the injected clock, consumed
// atomically (a replay is refused), payload returned on success and unreadable in the store.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OAuthStateStore } from '../../src/kits/auth/index.js';
import { code, DRIVERS, filesContaining, MINUTE, rawDump, testStore, type TestStore } from './auth-helpers.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');
interface Flow {
  redirect: string;
  verifier: string;
}

for (const driver of DRIVERS)
  describe(`OAuth state on ${driver}`, () => {
    let t: TestStore;
    beforeEach(async () => {
      t = await testStore(driver);
    });
    afterEach(async () => {
      await t.dispose();
    });

    it('a state is valid once and returns its payload', async () => {
      const states = new OAuthStateStore<Flow>(t.store, { clock: t.clock });
      const flow = { redirect: '/dashboard?tab=1', verifier: 'pkce-verifier-canary-0123456789abcdef' };
      const state = await states.create(flow);
      expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await states.consume(state)).toEqual({ ok: true, payload: flow });
      expect(await states.consume(state)).toEqual({ ok: false, reason: 'missing' });
      const bare = await states.create();
      expect(await states.consume(bare)).toEqual({ ok: true, payload: null });
      expect(await states.consume('never-issued')).toEqual({ ok: false, reason: 'missing' });
      expect(await states.consume('')).toEqual({ ok: false, reason: 'missing' });
    });

    it('expires after 10 minutes by default; an expired state is consumed too', async () => {
      const states = new OAuthStateStore(t.store, { clock: t.clock });
      const early = await states.create();
      const late = await states.create();
      t.advance(10 * MINUTE - 1);
      expect((await states.consume(early)).ok).toBe(true);
      t.advance(1);
      expect(await states.consume(late)).toEqual({ ok: false, reason: 'expired' });
      expect(await states.consume(late)).toEqual({ ok: false, reason: 'missing' });
    });

    it('an expired state left unconsumed is swept by the store later (then missing)', async () => {
      const states = new OAuthStateStore(t.store, { ttl: '1m', clock: t.clock });
      const state = await states.create();
      t.advance(2 * 3_600_000);
      expect(await states.consume(state)).toEqual({ ok: false, reason: 'missing' });
      expect(await t.store.kv('auth.oauth-state').count()).toBe(0);
    });

    it('concurrent consumes of one state: exactly one succeeds', async () => {
      const states = new OAuthStateStore<string>(t.store, { clock: t.clock });
      for (let round = 0; round < 20; round++) {
        const state = await states.create(`round-${round}`);
        const results = await Promise.all(Array.from({ length: 8 }, () => states.consume(state)));
        expect(results.filter((r) => r.ok)).toEqual([{ ok: true, payload: `round-${round}` }]);
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'missing')).toBe(true);
      }
    });

    it('the store holds neither the state nor the payload in readable form', async () => {
      const states = new OAuthStateStore<Flow>(t.store, { clock: t.clock });
      const made: Array<{ state: string; flow: Flow }> = [];
      for (let i = 0; i < 5; i++) {
        const flow = { redirect: `/after-login-${i}`, verifier: `pkce-verifier-canary-${i}-0123456789abcdef` };
        made.push({ state: await states.create(flow), flow });
      }
      const { keys, text } = await rawDump(t.store, 'auth.oauth-state');
      for (const { state, flow } of made) {
        expect(keys).toContain(`st:${sha256(state)}`);
        expect(text).not.toContain(state);
        expect(text).not.toContain(flow.verifier);
        expect(text).not.toContain(flow.redirect);
        if (driver !== 'memory') {
          expect(filesContaining(t.dir, state)).toEqual([]);
          expect(filesContaining(t.dir, flow.verifier)).toEqual([]);
        }
      }
      if (driver !== 'memory') expect(filesContaining(t.dir, sha256(made[0]!.state)).length).toBeGreaterThan(0);
    });

    it('a tampered payload is DECRYPT_FAILED, never a wrong payload', async () => {
      const states = new OAuthStateStore<Flow>(t.store, { clock: t.clock });
      const raw = t.store.kv<{ sealed: string }>('auth.oauth-state');
      const a = await states.create({ redirect: '/a', verifier: 'va' });
      const b = await states.create({ redirect: '/b', verifier: 'vb' });
      const keyA = `st:${sha256(a)}`;
      const keyB = `st:${sha256(b)}`;
      // Moved: b's sealed payload under a's key.
      await raw.set(keyA, (await raw.get(keyB))!);
      expect(await code(() => states.consume(a))).toBe('DECRYPT_FAILED');
      // Flipped: one byte of b's ciphertext.
      const record = (await raw.get(keyB))!;
      const bytes = Buffer.from(record.sealed, 'base64url');
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
      await raw.set(keyB, { ...record, sealed: bytes.toString('base64url') });
      expect(await code(() => states.consume(b))).toBe('DECRYPT_FAILED');
      // Truncated below nonce + tag.
      const c = await states.create({ redirect: '/c', verifier: 'vc' });
      const keyC = `st:${sha256(c)}`;
      await raw.set(keyC, { ...(await raw.get(keyC))!, sealed: 'AAAA' });
      expect(await code(() => states.consume(c))).toBe('DECRYPT_FAILED');
    });

    it('ttl and state size are configurable; bad options and payloads are BAD_INPUT', async () => {
      const states = new OAuthStateStore(t.store, { ttl: '30s', stateBytes: 16, clock: t.clock });
      const state = await states.create();
      expect(Buffer.from(state, 'base64url')).toHaveLength(16);
      t.advance(30_000);
      expect(await states.consume(state)).toEqual({ ok: false, reason: 'expired' });
      for (const options of [
        { ttl: '10 minutes' },
        { ttl: 0 },
        { stateBytes: 8 },
        { stateBytes: 'x' },
        { clock: {} },
        { tl: 1 },
      ]) {
        expect(await code(() => new OAuthStateStore(t.store, options as never)), JSON.stringify(options)).toBe('BAD_INPUT');
      }
      const any = new OAuthStateStore<unknown>(t.store);
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const payload of [() => 1, 10n, Number.NaN, new Date(), { a: undefined }, [Symbol('s')], cyclic]) {
        expect(await code(() => any.create(payload)), String(typeof payload)).toBe('BAD_INPUT');
      }
      expect(await code(() => any.consume(undefined as never))).toBe('BAD_INPUT');
      expect(await t.store.kv('auth.oauth-state').count()).toBe(0);
    });
  });
