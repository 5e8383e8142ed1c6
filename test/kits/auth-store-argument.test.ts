// Each auth kit store refuses a first argument that is not a store with BAD_INPUT, at
// construction, as the sync kit does: `null`, `undefined`, a plain object, a number, and a
// transaction handle (which has `kv` but no `transaction`, so an OTP verification or a sliding
// renewal on it could never run). The refusal names the constructor and a hint to pass what
// openStore() returned.
//
// Before the fix each constructor called `store.kv(...)` unchecked: a TypeError ("Cannot read
// properties of null"), and a transaction handle was taken, failing with a TypeError
// (`transaction is not a function`) at the first `verify` or sliding `get`.
import { describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { OAuthStateStore, OtpStore, SessionStore, TokenStore } from '../../src/kits/auth/index.js';

const KITS = [
  ['TokenStore', (s: unknown) => new TokenStore(s as Store)],
  ['SessionStore', (s: unknown) => new SessionStore(s as Store)],
  ['OAuthStateStore', (s: unknown) => new OAuthStateStore(s as Store)],
  ['OtpStore', (s: unknown) => new OtpStore(s as Store)],
] as const;

/** What `fn` throws or rejects with; `'resolved'` when it does neither. */
async function errorOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  return 'resolved';
}

function expectNotAStore(error: unknown, op: string): void {
  expect(error).toBeInstanceOf(StrataError);
  const e = error as StrataError;
  expect({ code: e.code, op: e.op, hint: e.hint }).toEqual({
    code: 'BAD_INPUT',
    op,
    hint: 'pass the store that openStore() returned',
  });
}

describe('the first argument of an auth kit store', () => {
  for (const [name, make] of KITS)
    it.each([
      ['null', null],
      ['undefined', undefined],
      ['a plain object', {}],
      ['a number', 1],
      ['a kv handle', { kv: () => undefined }],
    ])(`new ${name}(%s) is BAD_INPUT, not a TypeError`, async (_label, value) => {
      expectNotAStore(await errorOf(() => make(value)), name);
    });

  it('a transaction handle is BAD_INPUT at construction, and the transaction writes nothing', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      for (const [name, make] of KITS) {
        const error = await errorOf(() =>
          store.transaction(async (tx) => {
            await tx.kv('probe').set(name, true);
            make(tx);
          }),
        );
        expectNotAStore(error, name);
      }
      expect(await store.kv('probe').count()).toBe(0);
      // Control: the same constructors take the store itself (TokenStore needs a keyring, so
      // the store refuses its encrypted namespace: not a TypeError either).
      expect(new OtpStore(store)).toBeInstanceOf(OtpStore);
      expect(new SessionStore(store, { sliding: true, ttl: 10, maxAge: 100 })).toBeInstanceOf(SessionStore);
      expect(new OAuthStateStore(store)).toBeInstanceOf(OAuthStateStore);
      expect((await errorOf(() => new TokenStore(store))) as StrataError).toBeInstanceOf(StrataError);
    } finally {
      await store.close();
    }
  });
});
