// After a restore that returns `reopen: true`, `store.migrations.status()` and `down()` on
// the stale handle are CLOSED, like every other call. (They once ran: status answered with
// the restored records, or failed INTEGRITY with 'mac', the stale layer's keys being the
// old store id's.)
//
// Promise, docs/backups.md:35-38: "`reopen: true` from `restore`: ... The encryption layer of
// this handle holds the old state, so every later call on it but `close()` fails with CLOSED".
// README.md:557-558: "until then every call on that handle but `close()` fails with `CLOSED`."
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, StrataError, type MigrationContext } from '../../src/index.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-probe-reopen-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof StrataError ? e.code : `not a StrataError: ${String(e)}`;
  }
}

const migrations = [
  {
    name: '001',
    up: async (m: MigrationContext) => void (await m.kv('app').set('x', 1)),
    down: async (m: MigrationContext) => void (await m.kv('app').delete('x')),
  },
];

describe.each([
  ['checksum', { keys: KEYS }],
  ['mac', { keys: KEYS, integrity: 'mac' as const }],
])('a handle left stale by a restore (integrity %s)', (_name, encryption) => {
  it('refuses store.migrations.status() and down() with CLOSED, like every other call', async () => {
    const other = await openStore({ url: `sqlite:${join(dir, 'other.db')}`, sweepInterval: false, encryption });
    await other.migrate({ migrations });
    const backup = await other.backup({ to: join(dir, 'bk') });
    await other.close();

    const store = await openStore({ url: `sqlite:${join(dir, 'store.db')}`, sweepInterval: false, encryption });
    try {
      const app = store.kv('app');
      await app.set('y', 2);
      const result = await store.restore(backup.path);
      expect(result.reopen).toBe(true);
      // The rest of the handle is refused, as documented:
      expect(await codeOf(store.names())).toBe('CLOSED');
      expect(await codeOf(app.get('x'))).toBe('CLOSED');
      // It once answered (checksum) or failed INTEGRITY (mac) on the stale handle.
      expect(await codeOf(store.migrations.status({ migrations }))).toBe('CLOSED');
      // It once took the lease first (checksum) or failed INTEGRITY (mac).
      expect(await codeOf(store.migrations.down({ to: null, source: { migrations } }))).toBe('CLOSED');
    } finally {
      await store.close();
    }
  });
});
