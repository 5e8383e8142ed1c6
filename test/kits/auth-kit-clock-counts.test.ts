// What the auth kit reports it removed follows the kit's clock, as every other expiry decision
// does, even when the store's clock (its TTL) lags behind: a session past its expiry by the
// kit's clock, which `get` and `list` already leave out, is not reported by `destroy` /
// `destroyById` (false) nor counted by `destroyAll`; a token past its `ttl`, which the getter
// already reads as null, is not counted by `tokens.clear`. Their records are deleted all the
// same, and live ones are still reported and counted.
//
// Before the fix `destroy` returned true and `destroyAll` / `clear` counted every record the
// store still held by its own clock.
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { SessionStore, TokenStore } from '../../src/kits/auth/index.js';
import { DRIVERS, MINUTE, START, urlFor } from './auth-helpers.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const HOUR = 60 * MINUTE;

for (const driver of DRIVERS)
  describe(`on ${driver}, with the store clock standing still`, () => {
    let dir: string;
    let store: Store;
    let kitNow: number;
    const kitClock = (): number => kitNow;
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), `strata-auth-clock-${driver}-`));
      kitNow = START;
      // The store clock lags: by it, nothing ever expires.
      const storeClock = (): number => START;
      store = await openStore({
        url: urlFor(driver, dir),
        clock: storeClock,
        sweepInterval: false,
        encryption: { keys: KEYS },
      } as never);
    });
    afterEach(async () => {
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('destroy and destroyById report false for a session the kit clock says has expired', async () => {
      const sessions = new SessionStore(store, { ttl: '1h', clock: kitClock });
      const a = await sessions.create('ann');
      const b = await sessions.create('ann');
      kitNow += 30 * MINUTE;
      const live = await sessions.create('ann');
      kitNow = START + HOUR; // a and b end now, by the kit clock
      expect(await sessions.get(a.token)).toBeNull();
      expect(await sessions.destroy(a.token)).toBe(false);
      expect(await sessions.destroyById(b.session.id)).toBe(false);
      expect(await sessions.destroy(live.token)).toBe(true);
      // Their records went too, index entries included.
      expect(await store.kv('auth.sessions').count()).toBe(0);
    });

    it('destroyAll counts only the sessions live by the kit clock, and removes every record', async () => {
      const sessions = new SessionStore(store, { ttl: '1h', clock: kitClock });
      await sessions.create('ann');
      await sessions.create('ann');
      kitNow += 30 * MINUTE;
      const live = await sessions.create('ann');
      const bob = await sessions.create('bob');
      kitNow = START + HOUR;
      expect((await sessions.list('ann')).map((s) => s.id)).toEqual([live.session.id]);
      expect(await sessions.destroyAll('ann')).toBe(1);
      expect(await sessions.list('ann')).toEqual([]);
      expect(await sessions.destroyAll('ann')).toBe(0);
      // Only bob's session and its index entry are left.
      expect(await store.kv('auth.sessions').count()).toBe(2);
      expect(await sessions.get(bob.token)).not.toBeNull();
    });

    it('tokens.clear does not count a token past its ttl by the kit clock', async () => {
      const tokens = new TokenStore(store, { clock: kitClock });
      await tokens.persistAccessToken('short-lived', { provider: 'github', ttl: '1h' });
      await tokens.persistRefreshToken('long-lived', { provider: 'github' });
      await tokens.persistAccessToken('gone-too', { provider: 'gitlab', ttl: '1h' });
      kitNow = START + HOUR;
      expect(await tokens.getAccessToken({ provider: 'github' })).toBeNull();
      expect(await tokens.getRefreshToken({ provider: 'github' })).toBe('long-lived');
      expect(await tokens.clear({ provider: 'github' })).toBe(1);
      expect(await tokens.clear({ provider: 'gitlab' })).toBe(0);
      expect(await tokens.clear({ provider: 'github' })).toBe(0);
      // The expired records were deleted as well.
      expect(await store.kv('auth.tokens', { encrypt: true }).count()).toBe(0);
    });

    it('tokens.clear still counts a token one ms before its ttl', async () => {
      const tokens = new TokenStore(store, { clock: kitClock });
      await tokens.persistAccessToken('a', { ttl: '1h' });
      await tokens.persistRefreshToken('r', { ttl: '1h' });
      kitNow = START + HOUR - 1;
      expect(await tokens.clear()).toBe(2);
      expect(await tokens.getAccessToken()).toBeNull();
    });
  });

// A damaged token cannot be read, but `clear` is how a caller gets rid of it: it deletes
// both tokens all the same (counting what was there) instead of failing with the damage.
describe('tokens.clear of a damaged token (sqlite)', () => {
  it('deletes it rather than failing with CORRUPT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-auth-damaged-'));
    const url = urlFor('sqlite', dir);
    try {
      let store = await openStore({ url, sweepInterval: false, encryption: { keys: KEYS } } as never);
      await new TokenStore(store).persistAccessToken('secret-access-token');
      await store.close();
      const file = url.slice('sqlite:'.length).split('?')[0]!;
      const db = new Database(file);
      const table = `strata_s_${createHash('sha256').update('kv.auth.tokens').digest('hex').slice(0, 24)}`;
      db.prepare(`UPDATE ${table} SET value = replace(value, substr(value, 20, 1), '~')`).run();
      db.close();
      store = await openStore({ url, sweepInterval: false, encryption: { keys: KEYS } } as never);
      try {
        const tokens = new TokenStore(store);
        await expect(tokens.getAccessToken()).rejects.toMatchObject({ code: 'CORRUPT' });
        expect(await tokens.clear()).toBe(1);
        expect(await tokens.getAccessToken()).toBeNull();
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
