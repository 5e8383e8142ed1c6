// Whole-store images beyond the conformance suite: ciphertext stays ciphertext, a second
// connection sees the old or the new state, and an image survives heavy writing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/index.js';
import { loadRecords, snapshotRecords, type RawRecord } from '../../src/ops/image.js';
import { rawDump } from '../../src/testing/backup-suite.js';

const KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`;
const SECRET = 'plaintext-secret-4f1c';

async function collect(image: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of image) out.push(r);
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-image-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('images of an encrypted store', () => {
  for (const url of ['sqlite:app.db', 'file:app', 'memory:']) {
    it(`hold ciphertext only and load back into a store with the same keys (${url.split(':')[0]})`, async () => {
      const at = url === 'memory:' ? url : url.replace(':', `:${dir}/`);
      const store = await openStore({ url: at, encryption: { keys: KEYS, integrity: 'mac' }, sweepInterval: false });
      try {
        await store.kv<string>('secrets', { encrypt: true }).set('token', SECRET);
        const records = await collect(await snapshotRecords(store));
        expect(JSON.stringify(records)).not.toContain(SECRET);
        expect(records.some((r) => r.space === 'kv.secrets')).toBe(true);
        await store.kv('secrets').delete('token');
        await loadRecords(store, records, { mode: 'replace' });
        expect(await store.kv('secrets').get('token')).toBe(SECRET);
      } finally {
        await store.close();
      }
    });
  }
});

describe('sqlite images and loads across connections', () => {
  let a: Store;
  let b: Store;
  beforeEach(async () => {
    a = await openStore({ url: `sqlite:${dir}/app.db`, sweepInterval: false });
    b = await openStore({ url: `sqlite:${dir}/app.db`, sweepInterval: false });
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('an image taken while another connection writes is one point in time', async () => {
    const kv = a.kv<number>('n');
    await kv.setMany(Array.from({ length: 2000 }, (_, i) => [`k${String(i).padStart(5, '0')}`, 0] as [string, number]));
    const image = await snapshotRecords(a);
    // Every key changes while the image is read.
    const writes = (async () => {
      for (let round = 1; round <= 5; round++) {
        await b
          .kv<number>('n')
          .setMany(Array.from({ length: 2000 }, (_, i) => [`k${String(i).padStart(5, '0')}`, round] as [string, number]));
      }
    })();
    const records = (await collect(image)).filter((r) => r.space === 'kv.n');
    await writes;
    expect(records).toHaveLength(2000);
    expect(new Set(records.map((r) => r.value))).toEqual(new Set(['0']));
  });

  it('a load is seen whole by the other connection, whose watchers get a reset', async () => {
    await a.kv('n').set('old', 1);
    const events: string[] = [];
    const stop = b.kv('n').watch((c) => events.push(c.type));
    const records: RawRecord[] = Array.from({ length: 20_000 }, (_, i) => ({
      space: 'kv.n',
      key: `k${i}`,
      value: String(i),
      version: 3,
      createdAt: 1000,
      updatedAt: 2000,
      expiresAt: null,
    }));
    await loadRecords(a, records, { mode: 'replace' });
    expect(await b.kv('n').count()).toBe(20_000);
    expect(await b.kv('n').get('old')).toBeNull();
    expect(await rawDump(b, Date.now())).toBe(await rawDump(a, Date.now()));
    await new Promise((r) => setTimeout(r, 300));
    stop();
    expect(events).toContain('reset');
  });
});
