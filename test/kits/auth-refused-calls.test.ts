// auth kit calls that are refused leave the store as it was; destroyAll's count.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';
import { OAuthStateStore, SessionStore } from '../../src/kits/auth/index.js';

describe('OAuth state consume with a clock that is refused', () => {
  // docs/kits-auth.md:31-32: "A clock that returns something other than a finite number of
  // epoch milliseconds ... is `BAD_INPUT` on the call that reads it."
  // README.md:948: "A failed write leaves the store exactly as it was."
  // A refused consume must not use the state up: the callback, retried once the clock is
  // fixed, still completes the login.
  it('a consume refused with BAD_INPUT (bad clock) does not consume the state', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      let broken = false;
      const states = new OAuthStateStore<{ verifier: string }>(store, { clock: () => (broken ? Number.NaN : Date.now()) });
      const state = await states.create({ verifier: 'v' });
      broken = true;
      let code = 'resolved';
      try {
        await states.consume(state);
      } catch (error) {
        code = StrataError.is(error) ? error.code : 'not a StrataError';
      }
      expect(code).toBe('BAD_INPUT');
      broken = false;
      expect(await states.consume(state)).toEqual({ ok: true, payload: { verifier: 'v' } });
    } finally {
      await store.close();
    }
  });
});

describe('sessions.destroyAll count', () => {
  // docs/kits-auth.md: "It counts the sessions it removed: one past its expiry is already gone
  // for every read (the store's TTL ends it), so it is not counted, and the sweeper removes its
  // record." (It once promised to count those too, which it never could.) The store and the
  // kit share one clock; the sweeper is off, so the expired sessions are still in the file.
  it('does not count sessions past their expiry that are still in the file (not swept); the sweeper removes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-sessions-'));
    let now = Date.UTC(2026, 0, 1);
    const clock = (): number => now;
    const store = await openStore({ url: `sqlite:${join(dir, 's.db')}`, clock, sweepInterval: false });
    try {
      const sessions = new SessionStore(store, { ttl: '1h', clock });
      await sessions.create('ann');
      await sessions.create('ann');
      now += 2 * 3_600_000;
      // Not swept: both sessions and their index entries are still rows of the file.
      const db = new Database(join(dir, 's.db'), { readonly: true });
      const rows = (db.prepare(`select count(*) as c from "${tableName('kv.auth.sessions')}"`).get() as { c: number }).c;
      db.close();
      expect(rows).toBe(4);
      expect(await sessions.destroyAll('ann')).toBe(0);
      expect(await store.purgeExpired()).toBe(4);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
