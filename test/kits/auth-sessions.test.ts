// stratadb/kits/auth sessions: tokens of >= 128 random bits stored only as their SHA-256, a
// 7-day default ttl by the injected clock, sliding renewal under an absolute cap, destroy and
// destroy-all of a user, on every driver.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionStore } from '../../src/kits/auth/index.js';
import { code, DAY, DRIVERS, filesContaining, rawDump, START, testStore, type TestStore } from './auth-helpers.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

for (const driver of DRIVERS)
  describe(`sessions on ${driver}`, () => {
    let t: TestStore;
    beforeEach(async () => {
      t = await testStore(driver);
    });
    afterEach(async () => {
      await t.dispose();
    });

    it('creates 256-bit base64url tokens that find their session', async () => {
      const sessions = new SessionStore<{ role: string }>(t.store, { clock: t.clock });
      const { token, session } = await sessions.create('user-1', { data: { role: 'admin' } });
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(session).toEqual({
        id: sha256(token),
        userId: 'user-1',
        data: { role: 'admin' },
        createdAt: new Date(START),
        expiresAt: new Date(START + 7 * DAY),
        maxExpiresAt: null,
      });
      expect(await sessions.get(token)).toEqual(session);
      const tokens = new Set<string>([token]);
      for (let i = 0; i < 50; i++) tokens.add((await sessions.create('user-1')).token);
      expect(tokens.size).toBe(51);
      expect(await sessions.get('not-a-token')).toBeNull();
      expect(await sessions.get('')).toBeNull();
    });

    it('tokenBytes sets the token size, from 16 bytes (128 bits) up', async () => {
      const short = new SessionStore(t.store, { tokenBytes: 16 });
      const { token } = await short.create('u');
      expect(Buffer.from(token, 'base64url')).toHaveLength(16);
      expect(await code(() => new SessionStore(t.store, { tokenBytes: 15 }))).toBe('BAD_INPUT');
    });

    it('a dump of the store holds no token: keys and values carry only hashes', async () => {
      const sessions = new SessionStore(t.store, { clock: t.clock });
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await sessions.create(`user-${i % 2}`, { data: { note: 'visible-canary' } }));
      const { keys, text } = await rawDump(t.store, 'auth.sessions');
      expect(keys.length).toBe(10);
      for (const { token, session } of made) {
        expect(text).not.toContain(token);
        expect(keys.some((k) => k.includes(token))).toBe(false);
        expect(keys).toContain(`s:${session.id}`);
      }
      // A user id is not a secret, but the index keys hold its hash, not the text.
      expect(keys.some((k) => k.includes('user-0'))).toBe(false);
      if (driver !== 'memory') {
        // The raw bytes on disk: the data is there in plain text (the scan works), no token is.
        expect(filesContaining(t.dir, 'visible-canary').length).toBeGreaterThan(0);
        for (const { token } of made) expect(filesContaining(t.dir, token)).toEqual([]);
        await t.store.close();
        expect(filesContaining(t.dir, 'visible-canary').length).toBeGreaterThan(0);
        for (const { token } of made) expect(filesContaining(t.dir, token)).toEqual([]);
      }
    });

    it('expires after 7 days by default, by the injected clock', async () => {
      const sessions = new SessionStore(t.store, { clock: t.clock });
      const { token } = await sessions.create('u');
      t.advance(7 * DAY - 1);
      expect(await sessions.get(token)).not.toBeNull();
      t.advance(1);
      expect(await sessions.get(token)).toBeNull();
      // Found expired, it is removed from the store too.
      expect(await t.store.kv('auth.sessions').count()).toBe(0);
    });

    it('the kit clock alone decides expiry, even when the store clock lags', async () => {
      let kitNow = START;
      const sessions = new SessionStore(t.store, { ttl: '1h', clock: () => kitNow });
      const { token } = await sessions.create('u');
      kitNow += 3_600_000;
      expect(await sessions.get(token)).toBeNull();
    });

    it('without sliding, use does not extend a session', async () => {
      const sessions = new SessionStore(t.store, { ttl: '1d', clock: t.clock });
      const { token } = await sessions.create('u');
      t.advance(DAY / 2);
      expect((await sessions.get(token))!.expiresAt).toEqual(new Date(START + DAY));
      t.advance(DAY / 2);
      expect(await sessions.get(token)).toBeNull();
    });

    it('sliding renewal extends on use and never past maxAge', async () => {
      const sessions = new SessionStore(t.store, { ttl: '2d', sliding: true, maxAge: '10d', clock: t.clock });
      const { token, session } = await sessions.create('u');
      expect(session.expiresAt).toEqual(new Date(START + 2 * DAY));
      expect(session.maxExpiresAt).toEqual(new Date(START + 10 * DAY));
      // Used every 1.5 days: each use renews to now + 2d, until the cap.
      for (let day = 1.5; day < 10; day += 1.5) {
        t.advance(1.5 * DAY);
        const seen = await sessions.get(token);
        expect(seen, `day ${day}`).not.toBeNull();
        expect(seen!.expiresAt.getTime()).toBe(Math.min(START + (day + 2) * DAY, START + 10 * DAY));
      }
      // Day 9: still in use, but the cap ends it at day 10 however recently it was used.
      t.advance(DAY - 1); // day 10 - 1 ms
      expect(await sessions.get(token)).not.toBeNull();
      t.advance(1);
      expect(await sessions.get(token)).toBeNull();
    });

    it('an idle sliding session expires ttl after its last use', async () => {
      const sessions = new SessionStore(t.store, { ttl: '1d', sliding: true, clock: t.clock });
      const { token } = await sessions.create('u');
      t.advance(DAY / 2);
      await sessions.get(token);
      t.advance(DAY - 1);
      expect(await sessions.get(token)).not.toBeNull();
      t.advance(DAY);
      expect(await sessions.get(token)).toBeNull();
    });

    it("a renewal moves the store's own expiry too (the sweeper would not cut it short)", async () => {
      const sessions = new SessionStore(t.store, { ttl: '1d', sliding: true, clock: t.clock });
      const { token, session } = await sessions.create('u');
      const raw = t.store.kv('auth.sessions');
      expect((await raw.getEntry(`s:${session.id}`))!.expiresAt).toEqual(new Date(START + DAY));
      t.advance(DAY / 2);
      await sessions.get(token);
      expect((await raw.getEntry(`s:${session.id}`))!.expiresAt).toEqual(new Date(START + 1.5 * DAY));
      const index = (await raw.list({ prefix: 'u:' }))[0]!;
      expect((await raw.getEntry(index))!.expiresAt).toEqual(new Date(START + 1.5 * DAY));
    });

    it('concurrent uses of one sliding session all see it', async () => {
      const sessions = new SessionStore(t.store, { ttl: '1d', sliding: true, clock: t.clock });
      const { token } = await sessions.create('u');
      t.advance(1000);
      const seen = await Promise.all(Array.from({ length: 20 }, () => sessions.get(token)));
      expect(seen.every((s) => s !== null && s.userId === 'u')).toBe(true);
    });

    it('destroy ends one session; destroying again says it was gone', async () => {
      const sessions = new SessionStore(t.store, { clock: t.clock });
      const a = await sessions.create('u');
      const b = await sessions.create('u');
      expect(await sessions.destroy(a.token)).toBe(true);
      expect(await sessions.get(a.token)).toBeNull();
      expect(await sessions.destroy(a.token)).toBe(false);
      expect(await sessions.get(b.token)).not.toBeNull();
      expect(await sessions.destroyById(b.session.id)).toBe(true);
      expect(await sessions.get(b.token)).toBeNull();
      expect(await t.store.kv('auth.sessions').count()).toBe(0);
    });

    it("destroyAll ends every session of one user and no one else's", async () => {
      const sessions = new SessionStore(t.store, { clock: t.clock });
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push(await sessions.create('ann'));
      // A user id that extends the first one must not be caught by its prefix.
      const other = await sessions.create('ann:2');
      const bob = await sessions.create('bob');
      // Same creation instant (the fake clock stands still): compare as sets.
      expect((await sessions.list('ann')).map((s) => s.id).sort()).toEqual(mine.map((m) => m.session.id).sort());
      expect(await sessions.destroyAll('ann')).toBe(3);
      for (const m of mine) expect(await sessions.get(m.token)).toBeNull();
      expect(await sessions.get(other.token)).not.toBeNull();
      expect(await sessions.get(bob.token)).not.toBeNull();
      expect(await sessions.list('ann')).toEqual([]);
      expect(await sessions.list('bob')).toHaveLength(1);
      expect(await sessions.destroyAll('ann')).toBe(0);
    });

    it('destroyAll pages through many sessions', async () => {
      const sessions = new SessionStore(t.store, { clock: t.clock });
      await Promise.all(Array.from({ length: 1200 }, () => sessions.create('many')));
      expect(await sessions.destroyAll('many')).toBe(1200);
      expect(await t.store.kv('auth.sessions').count()).toBe(0);
    });

    it('list leaves out expired sessions', async () => {
      const sessions = new SessionStore(t.store, { ttl: '1h', clock: t.clock });
      await sessions.create('u');
      t.advance(30 * 60_000);
      const fresh = await sessions.create('u');
      t.advance(30 * 60_000);
      expect((await sessions.list('u')).map((s) => s.id)).toEqual([fresh.session.id]);
    });

    it('refuses bad options and input with BAD_INPUT', async () => {
      const bad: unknown[] = [
        { ttl: 0 },
        { ttl: '7 days' },
        { ttl: -1 },
        { ttl: Number.NaN },
        { ttl: '4000d' },
        { maxAge: '30d' }, // without sliding
        { sliding: true, ttl: '7d', maxAge: '1d' },
        { sliding: 'yes' },
        { tokenBytes: 65 },
        { tokenBytes: 16.5 },
        { namespace: 7 },
        { namespace: 'bad name' },
        { clock: 5 },
        { tll: '1d' },
        null,
      ];
      for (const options of bad) {
        expect(await code(() => new SessionStore(t.store, options as never)), JSON.stringify(options)).toBe('BAD_INPUT');
      }
      const sessions = new SessionStore(t.store, { clock: () => Number.NaN });
      expect(await code(() => sessions.create('u'))).toBe('BAD_INPUT');
      const ok = new SessionStore(t.store);
      expect(await code(() => ok.create(''))).toBe('BAD_INPUT');
      expect(await code(() => ok.create(7 as never))).toBe('BAD_INPUT');
      expect(await code(() => ok.create('u', { data: () => 1 } as never))).toBe('BAD_INPUT');
      expect(await code(() => ok.create('u', { date: 1 } as never))).toBe('BAD_INPUT');
      expect(await code(() => ok.get(undefined as never))).toBe('BAD_INPUT');
      expect(await code(() => ok.destroy(null as never))).toBe('BAD_INPUT');
      expect(await t.store.kv('auth.sessions').count()).toBe(0);
    });

    it('accepts every duration form the store does', async () => {
      for (const ttl of [60_000, '500ms', '30s', '10m', '12h', '7d', '2w', '1.5h']) {
        expect(() => new SessionStore(t.store, { ttl: ttl as never })).not.toThrow();
      }
    });

    it('foreign data in its namespace is CORRUPT, not a session', async () => {
      const sessions = new SessionStore(t.store, { clock: t.clock });
      const { token } = await sessions.create('u');
      await t.store.kv('auth.sessions').set(`s:${sha256(token)}`, 'junk');
      expect(await code(() => sessions.get(token))).toBe('CORRUPT');
    });
  });
