// an OAuth state payload that is plain JSON is taken.
//
// docs/kits-auth.md:134-136: "The payload must be plain JSON (objects, arrays, strings, finite
// numbers, booleans, null); anything else (a `Date`, `undefined`, a function, a cycle) is
// `BAD_INPUT`, and so is a `__proto__` key at any depth, as in every value the store takes."
// The store itself takes values nested up to 256 deep (src/codec/json.ts MAX_VALUE_DEPTH).
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
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
