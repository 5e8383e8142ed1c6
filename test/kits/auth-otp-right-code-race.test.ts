// concurrent verifications of the right code: exactly one `ok: true`, the others
// `missing`.
//
// docs/kits-auth.md:172-173: "A right code counts as an attempt and is used up at once: of
// concurrent verifications with the right code exactly one gets `ok: true`, the others
// `missing`."
//
// The interleaving is forced: verification B (a double submit of the same form) runs right
// after verification A's transaction committed. B used to find the code's attempts used up
// (A had counted its attempt but not yet used the code up) and answered `locked`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WriteOp } from '../../src/drivers/driver.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';
import { openStore } from '../../src/index.js';
import { OtpStore, type OtpResult } from '../../src/kits/auth/index.js';

async function withHookedStore(
  run: (ctx: {
    otp: (opts?: { maxAttempts?: number }) => OtpStore;
    afterAttempt: (fn: () => Promise<void>) => void;
  }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-otp-race-'));
  const inner = sqliteDriver({ path: join(dir, 's.db') });
  let hook: (() => Promise<void>) | null = null;
  const driver = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'batch') {
        return async (ops: readonly WriteOp[], now: number, options?: unknown) => {
          const result = await target.batch(ops, now, options as never);
          // A committed verification: a transaction's batch that writes or deletes the code record.
          const writes = ops.some((op) => (op.type === 'put' || op.type === 'delete') && op.space === 'kv.auth.otp');
          const act = ops.some((op) => op.type === 'check') && writes ? hook : null;
          if (act !== null) {
            hook = null;
            await act();
          }
          return result;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const store = await openStore({ driver, sweepInterval: false });
  try {
    await run({
      otp: (opts = {}) => new OtpStore(store, opts),
      afterAttempt: (fn) => {
        hook = fn;
      },
    });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('right code verified twice at once', () => {
  // The last attempt left is the right code's: the second submit must see the code used up.
  it.each([
    { name: 'default options, after 4 wrong codes', options: {}, wrongFirst: 4 },
    { name: 'maxAttempts: 1', options: { maxAttempts: 1 }, wrongFirst: 0 },
  ])('$name: a double submit of the right code gives ok + missing', async ({ options, wrongFirst }) => {
    await withHookedStore(async ({ otp: make, afterAttempt }) => {
      const otp = make(options);
      const { code } = await otp.issue('ann');
      const wrong = code === '000000' ? '000001' : '000000';
      for (let i = 0; i < wrongFirst; i++) expect((await otp.verify('ann', wrong)).ok).toBe(false);
      let second: OtpResult | null = null;
      afterAttempt(async () => {
        second = await otp.verify('ann', code);
      });
      expect(await otp.verify('ann', code)).toEqual({ ok: true });
      expect(second).toEqual({ ok: false, reason: 'missing' });
    });
  });
});
