// SECURITY.md: error messages never carry values of encrypted spaces. A value refused before
// it is encrypted (a NaN, a BigInt, a cycle inside it) is BAD_INPUT naming where the bad part
// is; below an encrypted field, or anywhere in a wholly encrypted value, property names are
// part of the secret (a map keyed by tokens), so the path stops there.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openStore, StrataError } from '../../src/index.js';

const SECRET = 'sk_live_CANARY4242';

/** Everything an error carries that could reach a log or a user: message, hint, details, causes. */
function everything(error: unknown): string {
  const parts: string[] = [];
  let e = error as { message?: unknown; hint?: unknown; details?: unknown; cause?: unknown } | undefined;
  for (let i = 0; e !== undefined && e !== null && i < 5; i++) {
    parts.push(String(e.message), String(e.hint), JSON.stringify(e.details ?? null));
    e = e.cause as typeof e;
  }
  return parts.join(' | ');
}

async function refusal(p: Promise<unknown>): Promise<StrataError> {
  const error = await p.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StrataError);
  return error as StrataError;
}

describe('a refused value of an encrypted space', () => {
  it('names the path only down to what is encrypted; plain spaces and fields keep the whole path', async () => {
    const keys = `k1:${randomBytes(32).toString('base64')}`;
    const store = await openStore({ url: 'memory:', encryption: { keys }, sweepInterval: false });
    try {
      const vault = store.kv<unknown>('vault', { encrypt: true });
      const users = store.collection('users', { encrypt: ['apiKeys'] });
      const cyclic: Record<string, unknown> = {};
      cyclic[SECRET] = cyclic;
      const hidden = [
        await refusal(vault.set('tokens', { [SECRET]: Number.NaN })),
        await refusal(vault.setMany([['t', { a: { [SECRET]: 1n } }]])),
        await refusal(vault.update('t', () => cyclic)),
        await refusal(users.insert({ id: 'u1', apiKeys: { [SECRET]: [undefined] } })),
        await refusal(users.upsertMany([{ id: 'u2', apiKeys: { [SECRET]: Number.POSITIVE_INFINITY } }])),
      ];
      for (const error of hidden) {
        expect(error.code).toBe('BAD_INPUT');
        expect(everything(error)).not.toContain(SECRET);
        expect(error.details).toMatchObject({ hidden: true });
      }
      expect(hidden[0]!.details?.path).toBe('value');
      expect(hidden[3]!.details?.path).toBe('value.apiKeys');
      // Outside what is encrypted, the path is whole.
      const plain = await refusal(users.insert({ id: 'u3', other: { [SECRET]: Number.NaN } }));
      expect(plain.details?.path).toBe(`value.other.${SECRET}`);
      const open = await refusal(store.kv('open').set('k', { [SECRET]: Number.NaN }));
      expect(open.details?.path).toBe(`value.${SECRET}`);
      // Nothing was written.
      expect(await vault.get('tokens')).toBeNull();
      expect(await users.count()).toBe(0);
    } finally {
      await store.close();
    }
  });
});
