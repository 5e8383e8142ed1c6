// stats().bytes, the strata_bytes gauge and byte quotas measure one thing on every driver:
// the UTF-8 bytes of the live records' keys and values (what kv.size() counts for a value).
// Expired records not yet swept count for none of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, StrataError, type Store } from '../../src/index.js';
import { parseExposition, valueOf } from './exposition.js';

let dir: string;
const opened: Store[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-stats-bytes-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const DRIVERS = [
  ['sqlite', () => `sqlite:${join(dir, 'b.db')}`],
  ['memory', () => 'memory:'],
  ['file', () => `file:${join(dir, 'files')}`],
] as const;

async function open(url: string, clock?: () => number): Promise<Store> {
  const store = await openStore({ url, sweepInterval: false, metrics: { flushInterval: false }, ...(clock ? { clock } : {}) });
  opened.push(store);
  return store;
}

/** The UTF-8 bytes a kv record counts for: its key and its value as stored (JSON text). */
const utf8 = (key: string, value: unknown): number =>
  Buffer.byteLength(key, 'utf8') + Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('bytes of live records', () => {
  it.each(DRIVERS)('on %s, stats().bytes and strata_bytes are the UTF-8 bytes of the live records', async (_driver, url) => {
    let now = Date.UTC(2030, 0, 1);
    const store = await open(url(), () => now);
    const kv = store.kv('b');
    await kv.set('日本', '日本語のテキスト');
    await kv.set('emoji', '😀😀');
    await kv.set('gone', 'x'.repeat(100), { ttl: 1000 });
    now += 5000; // 'gone' expired, not swept
    const stat = (await store.stats()).kv.find((s) => s.name === 'b')!;
    const samples = parseExposition(await store.metrics()).samples;
    const expected = utf8('日本', '日本語のテキスト') + utf8('emoji', '😀😀');
    expect({ records: stat.records, bytes: stat.bytes, gauge: valueOf(samples, 'strata_bytes', { space: 'kv.b' }) }).toEqual({
      records: 2,
      bytes: expected,
      gauge: expected,
    });
    expect(await kv.size('日本')).toBe(Buffer.byteLength(JSON.stringify('日本語のテキスト'), 'utf8'));
  });

  it.each(DRIVERS)('on %s, a byte quota counts the same UTF-8 bytes', async (_driver, url) => {
    const store = await open(url());
    const one = utf8('日本', '日本語');
    const kv = store.kv('q', { quota: { bytes: one } });
    await kv.set('日本', '日本語'); // exactly at the limit
    const error = await kv.set('日', 'x').catch((e: unknown) => e);
    expect(StrataError.is(error, 'QUOTA_EXCEEDED')).toBe(true);
    expect(error).toMatchObject({ details: { limit: one, before: one, usage: one + utf8('日', 'x') } });
    expect(await kv.list()).toEqual(['日本']);
  });
});
