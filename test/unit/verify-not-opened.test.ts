// store.verify() opened without the keyring checks the encrypted records' checksums only: its
// report says how many live records of encrypted spaces it could not open (`notOpened`), so a
// clean report never claims more than was checked. With the keyring every ciphertext is
// opened and there is no `notOpened`. (The CLI prints the same count; before, the library's
// report said nothing and `strata verify` had to read the store's internals to tell.)
import { describe, expect, it } from 'vitest';
import { DRIVERS, opened } from '../store-fixture.js';

const KEYS = `k1:${Buffer.alloc(32, 9).toString('base64')}`;

describe.each(DRIVERS.filter((d) => d !== 'memory'))('verify without the keyring on %s', (driver) => {
  it('reports the live records of encrypted spaces it did not open', async () => {
    const t = await opened(driver, { encryption: { keys: KEYS } });
    try {
      await t.store.kv('secrets', { encrypt: true }).setMany([
        ['a', 'x'],
        ['b', 'y'],
      ]);
      await t.store.collection('people', { encrypt: ['email'] }).insert({ id: 'p', email: 'e@example.com' });
      await t.store.kv('plain').set('k', 1);
      await t.store.kv('emptied', { encrypt: true }).set('gone', 1);
      await t.store.kv('emptied', { encrypt: true }).delete('gone');
      expect((await t.store.verify()).notOpened).toBeUndefined();
      await t.store.close();
      const bare = await t.open({ encryption: undefined });
      const report = await bare.verify();
      expect(report.ok).toBe(true);
      expect(report.notOpened).toEqual({
        records: 3,
        spaces: expect.arrayContaining([
          { space: 'kv.secrets', records: 2 },
          { space: 'c.people', records: 1 },
        ]),
      });
      expect(report.notOpened!.spaces).toHaveLength(2);
    } finally {
      await t.dispose();
    }
  });
});
