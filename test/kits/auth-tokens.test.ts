// stratadb/kits/auth tokens: seed 000's persistAccessToken / persistRefreshToken, per provider
// and account, in a kv namespace opened with { encrypt: true }.
//
// These tests need store encryption (`openStore({ encryption: { keys } })`, issue 8 item 1-2):
// until it is merged, openStore refuses `encryption` with UNSUPPORTED and they fail.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { TokenStore } from '../../src/kits/auth/index.js';
import { code, DRIVERS, filesContaining, START, urlFor, type DriverName } from './auth-helpers.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;

interface EncryptedStore {
  store: Store;
  dir: string;
  clock: () => number;
  advance(ms: number): void;
}

async function encryptedStore(driver: DriverName, dir: string): Promise<EncryptedStore> {
  let now = START;
  const clock = (): number => now;
  const store = await openStore({ url: urlFor(driver, dir), clock, sweepInterval: false, encryption: { keys: KEYS } } as never);
  return { store, dir, clock, advance: (ms) => void (now += ms) };
}

describe('tokens without a keyring', () => {
  it('are refused rather than stored in plain text', async () => {
    const store = await openStore('memory:');
    try {
      const refused = await code(async () => {
        const tokens = new TokenStore(store);
        await tokens.persistAccessToken('plain-text-would-be-a-leak');
      });
      expect(refused).not.toBe('resolved');
      expect(await store.kv('auth.tokens').count()).toBe(0);
    } finally {
      await store.close();
    }
  });
});

for (const driver of DRIVERS)
  describe(`tokens on ${driver}`, () => {
    let dir: string;
    let t: EncryptedStore;
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), `strata-auth-tokens-${driver}-`));
      t = await encryptedStore(driver, dir);
    });
    afterEach(async () => {
      await t?.store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('persists and reads back access and refresh tokens (null when absent)', async () => {
      const tokens = new TokenStore(t.store, { clock: t.clock });
      expect(await tokens.getAccessToken()).toBeNull();
      expect(await tokens.getRefreshToken()).toBeNull();
      await tokens.persistAccessToken('gho_access_1');
      await tokens.persistRefreshToken('ghr_refresh_1');
      expect(await tokens.getAccessToken()).toBe('gho_access_1');
      expect(await tokens.getRefreshToken()).toBe('ghr_refresh_1');
      await tokens.persistAccessToken('gho_access_2');
      expect(await tokens.getAccessToken()).toBe('gho_access_2');
    });

    it('keeps providers and accounts apart', async () => {
      const tokens = new TokenStore(t.store, { clock: t.clock });
      await tokens.persistAccessToken('gh-ann', { provider: 'github', account: 'ann' });
      await tokens.persistAccessToken('gh-bob', { provider: 'github', account: 'bob' });
      await tokens.persistAccessToken('gl-ann', { provider: 'gitlab', account: 'ann' });
      expect(await tokens.getAccessToken({ provider: 'github', account: 'ann' })).toBe('gh-ann');
      expect(await tokens.getAccessToken({ provider: 'github', account: 'bob' })).toBe('gh-bob');
      expect(await tokens.getAccessToken({ provider: 'gitlab', account: 'ann' })).toBe('gl-ann');
      expect(await tokens.getAccessToken({ provider: 'github' })).toBeNull();
      expect(await tokens.getAccessToken()).toBeNull();
      expect(await tokens.clear({ provider: 'github', account: 'ann' })).toBe(1);
      expect(await tokens.getAccessToken({ provider: 'github', account: 'ann' })).toBeNull();
      expect(await tokens.getAccessToken({ provider: 'github', account: 'bob' })).toBe('gh-bob');
    });

    it('an access token with a ttl reads as null once it passed (injected clock)', async () => {
      const tokens = new TokenStore(t.store, { clock: t.clock });
      await tokens.persistAccessToken('short-lived', { ttl: 3600 * 1000 });
      await tokens.persistRefreshToken('long-lived');
      t.advance(3600 * 1000 - 1);
      expect(await tokens.getAccessToken()).toBe('short-lived');
      t.advance(1);
      expect(await tokens.getAccessToken()).toBeNull();
      expect(await tokens.getRefreshToken()).toBe('long-lived');
    });

    it('clear forgets both tokens', async () => {
      const tokens = new TokenStore(t.store, { clock: t.clock });
      await tokens.persistAccessToken('a');
      await tokens.persistRefreshToken('r');
      expect(await tokens.clear()).toBe(2);
      expect(await tokens.getAccessToken()).toBeNull();
      expect(await tokens.getRefreshToken()).toBeNull();
      expect(await tokens.clear()).toBe(0);
    });

    // A memory store writes no files: the scan applies to the drivers that do.
    if (driver !== 'memory')
      it('no token or account name is in any file the store writes', async () => {
        const tokens = new TokenStore(t.store, { clock: t.clock });
        const access = `gho_${randomBytes(18).toString('hex')}`;
        const refresh = `ghr_${randomBytes(18).toString('hex')}`;
        await tokens.persistAccessToken(access, { provider: 'github', account: 'ann@example.com' });
        await tokens.persistRefreshToken(refresh, { provider: 'github', account: 'ann@example.com' });
        await t.store.kv('plain').set('canary', 'visible-canary');
        for (const secret of [access, refresh, 'ann@example.com']) expect(filesContaining(dir, secret)).toEqual([]);
        expect(filesContaining(dir, 'visible-canary').length).toBeGreaterThan(0);
        await t.store.close();
        for (const secret of [access, refresh, 'ann@example.com']) expect(filesContaining(dir, secret)).toEqual([]);
      });

    it('refuses bad input with BAD_INPUT', async () => {
      const tokens = new TokenStore(t.store, { clock: t.clock });
      expect(await code(() => tokens.persistAccessToken(''))).toBe('BAD_INPUT');
      expect(await code(() => tokens.persistAccessToken(42 as never))).toBe('BAD_INPUT');
      expect(await code(() => tokens.persistAccessToken('x', { ttl: '1 hour' as never }))).toBe('BAD_INPUT');
      expect(await code(() => tokens.persistAccessToken('x', { tll: '1h' } as never))).toBe('BAD_INPUT');
      expect(await code(() => tokens.getAccessToken({ provider: '' }))).toBe('BAD_INPUT');
      expect(await code(() => tokens.getRefreshToken({ acount: 'a' } as never))).toBe('BAD_INPUT');
      expect(await code(() => new TokenStore(t.store, { namespace: 'auth tokens' }))).toBe('BAD_INPUT');
      expect(await code(() => new TokenStore(t.store, { clock: 1 } as never))).toBe('BAD_INPUT');
    });
  });
