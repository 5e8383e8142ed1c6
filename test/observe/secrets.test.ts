// Planted secrets (a passphrase, an encrypted value, OAuth tokens, a PKCE verifier and state)
// never reach log lines, the messages, hints or details of the errors raised, stats(), the
// Prometheus text or the counters persisted in meta.metrics.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { openStore, type StrataError } from '../../src/index.js';
import { OAuthStateStore, TokenStore } from '../../src/kits/auth/index.js';
import { readTotals } from '../../src/observe/persist.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-obs-secrets-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('secrets stay out of observability output', () => {
  // docs/observability.md "Logs": "What is never logged: keys, values, documents, error messages,
  // hints and details ..., keyring material"; README.md "Encryption": "No key material appears in
  // any error, hint or stats output."
  it('passphrase, encrypted values, OAuth tokens and PKCE verifiers appear in no output', async () => {
    const PASS = 'correct-horse-PLANTED-passphrase';
    const ACCESS = 'gho_PLANTEDACCESS1234567890';
    const REFRESH = 'ghr_PLANTEDREFRESH0987654321';
    const VERIFIER = 'PLANTED_VERIFIER_abcdef';
    const VALUE = 'PLANTED_ENCRYPTED_VALUE';
    const raw: string[] = [];
    const stream = new Writable({
      write(c: Buffer, _e, done) {
        raw.push(c.toString('utf8'));
        done();
      },
    });
    const url = `sqlite:${join(dir, 's.db')}`;
    const store = await openStore({
      url,
      encryption: { keys: { passphrase: PASS } },
      logger: pino({ level: 'debug' }, stream),
      metrics: true,
      sweepInterval: false,
    });
    const errors: string[] = [];
    const keep = async (p: Promise<unknown>): Promise<void> => {
      try {
        await p;
      } catch (e) {
        errors.push(JSON.stringify({ m: (e as Error).message, h: (e as StrataError).hint, d: (e as StrataError).details }));
      }
    };
    const vault = store.kv<unknown>('vault', { encrypt: true });
    await vault.set('v', VALUE);
    await keep(vault.set('v', { [VALUE]: 'x\uD800' }));
    await keep(vault.set('v', VALUE, { ifVersion: 9 }));
    const tokens = new TokenStore(store);
    await tokens.persistAccessToken(ACCESS, { provider: 'github', account: 'ann' });
    await tokens.persistRefreshToken(REFRESH, { provider: 'github', account: 'ann' });
    expect(await tokens.getAccessToken({ provider: 'github', account: 'ann' })).toBe(ACCESS);
    const states = new OAuthStateStore<{ verifier: string }>(store);
    const state = await states.create({ verifier: VERIFIER });
    expect((await states.consume(state)).ok).toBe(true);
    const stats = JSON.stringify(await store.stats());
    const metrics = await store.metrics();
    await store.close();
    const reader = await openStore({ url, sweepInterval: false });
    const totals = JSON.stringify(await readTotals(reader.driver, Date.now()));
    await reader.close();
    expect(errors.length).toBe(2);
    const everything = [raw.join(''), errors.join('\n'), stats, metrics, totals].join('\n');
    for (const secret of [PASS, ACCESS, REFRESH, VERIFIER, VALUE, state]) expect(everything).not.toContain(secret);
  });
});
