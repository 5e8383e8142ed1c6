// `strata prune` (DESIGN.md's CLI list): expired records removed now, and with -c the old
// documents (jobs.retain's rule) or the duplicates (collection.dedupe) of a collection.
// Refused combinations are BAD_INPUT before the store is touched.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { requireBuild, strata, type Run } from './helpers.js';

let dir: string;
beforeAll(() => {
  requireBuild();
  dir = mkdtempSync(join(tmpdir(), 'strata-cli-prune-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;

/** A store with 3 expired kv keys, 2 live ones, events of every age and kind, and duplicate deployments. */
async function seeded(url: string): Promise<void> {
  const store = await openStore({ url, sweepInterval: false });
  try {
    const kv = store.kv('cache');
    for (const k of ['a', 'b', 'c']) await kv.set(k, 1, { ttl: 1 });
    await kv.setMany([
      ['live1', 1],
      ['live2', 2],
    ]);
    const now = Date.now();
    await store
      .collection('events')
      .insertMany([
        { id: 'old-date', createdAt: new Date(now - 40 * DAY) },
        { id: 'old-ms', createdAt: now - 40 * DAY },
        { id: 'new', createdAt: new Date(now - DAY) },
        { id: 'text', createdAt: 'long ago' },
        { id: 'none' },
      ]);
    await store.collection('deployments', { key: 'recordId' }).insertMany([
      { recordId: 'r1', id: 'd1', at: 1 },
      { recordId: 'r2', id: 'd1', at: 3 },
      { recordId: 'r3', id: 'd1', at: 2 },
      { recordId: 'r4', id: 'd2', at: 1 },
    ]);
  } finally {
    await store.close();
  }
  await new Promise((resolve) => setTimeout(resolve, 20)); // the 1 ms TTLs pass
}

async function contents(url: string): Promise<{ cache: string[]; events: string[]; deployments: string[] }> {
  const store = await openStore({ url, sweepInterval: false });
  try {
    const keys = async (name: 'events' | 'deployments', key: string) =>
      ((await store.collection(name, { key }).query({})) as Array<Record<string, string>>).map((d) => d[key]!).sort();
    return {
      cache: (await store.kv('cache').list()).sort(),
      events: await keys('events', 'id'),
      deployments: await keys('deployments', 'recordId'),
    };
  } finally {
    await store.close();
  }
}

describe.each(['sqlite', 'file'])('strata prune (%s)', (driver) => {
  let url: string;
  const run = (...args: string[]): Run => strata(['--url', url, ...args], { cwd: dir });
  beforeAll(async () => {
    url = driver === 'sqlite' ? `sqlite:${join(dir, 'prune.db')}` : `file:${join(dir, 'prune-store')}`;
    await seeded(url);
  });

  it('refuses what does not go together, with the store untouched', async () => {
    const before = await contents(url);
    for (const args of [
      ['--older-than', '30d'],
      ['-c', 'events', '--older-than', '30d'],
      ['-c', 'events', '--field', 'createdAt'],
      ['--dedupe', 'id'],
      ['-c', 'events'],
      ['-c', 'deployments', '--keep', 'oldest'],
      ['-c', 'deployments', '--dedupe', 'id', '--keep', 'first'],
      ['-c', 'events', '--older-than', 'soon', '--field', 'createdAt'],
      ['-c', 'events', '--older-than', '30d', '--field', '__proto__'],
    ]) {
      const result = run('prune', ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^error BAD_INPUT: .*\nhint: /);
    }
    const missing = run('prune', '-c', 'nope', '--dedupe', 'id');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('collections in this store: deployments, events');
    expect(await contents(url)).toEqual(before);
  });

  it('removes expired records, then old documents by their date field, keeping what is not a date', async () => {
    const result = run('--json', 'prune', '-c', 'events', '--older-than', '30d', '--field', 'createdAt');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ expired: 3, retained: { collection: 'events', deleted: 2 } });
    expect(await contents(url)).toMatchObject({ cache: ['live1', 'live2'], events: ['new', 'none', 'text'] });
  });

  it('keeps one document of each group of duplicates, the one --keep names', async () => {
    const result = run('prune', '-c', 'deployments', '--dedupe', 'id', '--keep', 'newest:at');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('removed 0 expired records\nremoved 2 duplicates from deployments\n');
    expect((await contents(url)).deployments).toEqual(['r2', 'r4']);
  });
});
