// Hints say what to do, and doing it works. A record written before its protection (plain
// text in an encrypted space, no MAC under integrity 'mac') is left as it is by a plain
// rotateKeys(): its hint names rotateKeys({ protectExisting: true }) and the CLI's
// `strata rotate-keys --protect-existing`. A passphrase keyring has no key id to give back:
// a wrong passphrase (or a changed stored salt) is told in terms of the passphrase and salt.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { failure, KEY1, openAt, tempDir } from './encrypted-store-fixtures.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const url = (name: string): string => `sqlite:${join(t.dir, name)}`;
const keys = { keys: `k1:${KEY1}` };

describe('hints for records written before their protection', () => {
  it('a plain value in an encrypted namespace: the hint names protectExisting, and following it makes the value read', async () => {
    const first = await openAt(url('kv.sqlite'), keys);
    await first.kv('p').set('a', 'plain');
    await first.close();
    const store = await openAt(url('kv.sqlite'), keys);
    try {
      const kv = store.kv('p', { encrypt: true });
      const error = await failure(kv.get('a'), 'DECRYPT_FAILED');
      expect(error.hint).toMatch(/store\.rotateKeys\(\{ protectExisting: true \}\)/);
      expect(error.hint).toMatch(/`strata rotate-keys --protect-existing`/);
      expect((await store.rotateKeys()).failed.map((f) => f.message)).toEqual([expect.stringMatching(/protectExisting/)]);
      expect((await store.rotateKeys({ protectExisting: true })).failed).toEqual([]);
      expect(await kv.get('a')).toBe('plain');
    } finally {
      await store.close();
    }
  });

  it('a plain field in an encrypted collection: the same hint', async () => {
    const first = await openAt(url('c.sqlite'), keys);
    await first.collection('c').insert({ id: '1', secret: 'plain' } as never);
    await first.close();
    const store = await openAt(url('c.sqlite'), keys);
    try {
      const error = await failure(store.collection('c', { encrypt: ['secret'] }).get('1'), 'DECRYPT_FAILED');
      expect(error.hint).toMatch(/protectExisting: true/);
      expect(error.hint).toMatch(/--protect-existing/);
    } finally {
      await store.close();
    }
  });

  it("an unsigned record under integrity 'mac': the hint names protectExisting", async () => {
    const first = await openAt(url('mac.sqlite'), keys);
    await first.kv('p').set('a', 'plain');
    await first.close();
    const store = await openAt(url('mac.sqlite'), { ...keys, integrity: 'mac' });
    try {
      const error = await failure(store.kv('p').get('a'), 'INTEGRITY');
      expect(error.hint).toMatch(/store\.rotateKeys\(\{ protectExisting: true \}\)/);
      expect(error.hint).toMatch(/--protect-existing/);
    } finally {
      await store.close();
    }
  });
});

describe('hints for a passphrase keyring', () => {
  it('a wrong passphrase: the hint names the passphrase and the stored salt, not a key id', async () => {
    const first = await openAt(url('pass.sqlite'), { keys: { passphrase: 'correct horse battery staple' } });
    await first.kv('v', { encrypt: true }).set('a', 'A');
    await first.close();
    const error = await failure(
      openAt(url('pass.sqlite'), { keys: { passphrase: 'wrong horse battery staple' } }),
      'DECRYPT_FAILED',
    );
    expect(error.message).toMatch(/passphrase/);
    expect(error.hint).toMatch(/passphrase/);
    expect(error.hint).toMatch(/salt/);
    expect(error.hint).not.toMatch(/new id/);
    // A salt given to a store that keeps its own is the likelier mistake: named as such.
    const salted = await failure(
      openAt(url('pass.sqlite'), {
        keys: { passphrase: 'correct horse battery staple', salt: Buffer.alloc(16, 9).toString('base64') },
      }),
      'DECRYPT_FAILED',
    );
    expect(salted.hint).toMatch(/keeps its own salt: leave encryption\.keys\.salt out/);
  });

  it('a wrong passphrase with a given salt: the hint names encryption.keys.salt', async () => {
    const salt = Buffer.alloc(16, 5).toString('base64');
    const first = await openAt(url('salt.sqlite'), { keys: { passphrase: 'correct horse battery staple', salt } });
    await first.close();
    const error = await failure(
      openAt(url('salt.sqlite'), { keys: { passphrase: 'wrong horse battery staple', salt } }),
      'DECRYPT_FAILED',
    );
    expect(error.hint).toMatch(/encryption\.keys\.salt/);
  });

  it('a passphrase under another id: the hint names the id to give', async () => {
    const first = await openAt(url('id.sqlite'), { keys: { passphrase: 'correct horse battery staple' } });
    await first.close();
    const error = await failure(
      openAt(url('id.sqlite'), { keys: { passphrase: 'correct horse battery staple', id: 'p2' } }),
      'DECRYPT_FAILED',
    );
    expect(error.hint).toMatch(/id: "p1"/);
  });
});
