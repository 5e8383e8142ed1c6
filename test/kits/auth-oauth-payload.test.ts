// an OAuth state payload that is plain JSON is taken; one with a lone surrogate is refused.
//
// docs/kits-auth.md:134-136: "The payload must be plain JSON (objects, arrays, strings, finite
// numbers, booleans, null); anything else (a `Date`, `undefined`, a function, a cycle) is
// `BAD_INPUT`, and so is a `__proto__` key at any depth, as in every value the store takes."
// The store itself takes values nested up to 256 deep (src/codec/json.ts MAX_VALUE_DEPTH).
import { describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';
import { OAuthStateStore } from '../../src/kits/auth/index.js';

describe('OAuth state payload nesting', () => {
  it('a plain JSON payload nested 70 deep (the store takes 256) round-trips', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      let payload: unknown = 'leaf';
      for (let i = 0; i < 70; i++) payload = { next: payload };
      // Control: the store takes this very value.
      await store.kv('control').set('deep', payload);
      const states = new OAuthStateStore(store);
      const state = await states.create(payload);
      expect(await states.consume(state)).toEqual({ ok: true, payload });
    } finally {
      await store.close();
    }
  });
});

// A payload the store would refuse is refused by create as well: lone UTF-16 surrogates, in a
// string at any depth or in an object key, are BAD_INPUT (op oauthState.create) and nothing is
// stored. The payload is sealed before the store sees it, so the kit runs the store's own value
// encoder on it; the refusal names no property of the payload (it is encrypted, as the store
// does for an encrypted value) and carries none of its text.
//
// Before the fix these payloads were taken and a state record was written.
describe('OAuth state payloads with lone surrogates', () => {
  it.each([
    ['a string value', { redirect: '/a\ud800' }],
    ['an object key', { ['verifier-key\udc00']: 1 }],
    ['a nested array item', { list: [['ok', '\ud83d']] }],
    ['a nested object key', { a: { ['pkce-name\udbff']: 'x' } }],
    ['the payload itself', 'top\udfff'],
  ])('a lone surrogate in %s is BAD_INPUT and nothing is stored', async (_label, payload) => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      // Control: the store itself refuses the same value.
      expect(
        await store
          .kv('control')
          .set('k', payload)
          .then(
            () => 'resolved',
            (e: StrataError) => e.code,
          ),
      ).toBe('BAD_INPUT');
      const states = new OAuthStateStore(store);
      const error = await states.create(payload).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StrataError);
      const e = error as StrataError;
      expect({ code: e.code, op: e.op }).toEqual({ code: 'BAD_INPUT', op: 'oauthState.create' });
      expect(e.message).toMatch(/lone UTF-16 surrogate/);
      expect(e.hint).toMatch(/String\.prototype\.toWellFormed/);
      for (const secret of ['redirect', 'verifier-key', 'list', 'pkce-name', '/a', 'top'])
        expect(e.message).not.toContain(secret);
      expect(await store.kv('auth.oauth-state').count()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('well-formed text, astral characters included, still round-trips', async () => {
    const store = await openStore({ url: 'memory:', sweepInterval: false });
    try {
      const states = new OAuthStateStore(store);
      const payload = { redirect: '/a\ud83d\ude00', ['k\ud83d\ude00']: ['\u00e9'] };
      const state = await states.create(payload);
      expect(await states.consume(state)).toEqual({ ok: true, payload });
    } finally {
      await store.close();
    }
  });
});
