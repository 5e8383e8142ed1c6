import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore } from '../../src/index.js';

describe('store.verify with schemas, collection.drop', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-verify-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('store.verify reports documents that fail the schema their collection was declared with', async () => {
    const url = `sqlite:${join(dir, 's.db')}`;
    const loose = await openStore(url);
    await loose.collection('tasks').insertMany([
      { id: 'a', title: 'ok' },
      { id: 'b', title: 7 },
    ]);
    await loose.close();
    const store = await openStore(url);
    store.collection('tasks', { schema: z.object({ id: z.string(), title: z.string() }) });
    const report = await store.verify();
    expect(report.ok).toBe(false);
    expect(report.issues).toEqual([expect.objectContaining({ code: 'VALIDATION_FAILED', space: 'c.tasks', key: 'b' })]);
    await store.close();
    const plain = await openStore(url);
    expect((await plain.verify()).ok).toBe(true);
    await plain.close();
  });

  it('drop() removes the documents and the remembered declaration', async () => {
    const url = `sqlite:${join(dir, 'd.db')}`;
    const store = await openStore(url);
    const deployments = store.collection('deployments', { key: 'recordId', indexes: ['status'] });
    await deployments.insert({ recordId: 'r1', status: 'ok' });
    expect(await store.describe('deployments')).toMatchObject({ key: 'recordId' });
    expect(await deployments.drop()).toBe(1);
    expect(await store.describe('deployments')).toBeNull();
    expect((await store.names()).collections).toEqual([]);
    await store.close();
    const again = await openStore(url);
    expect(await again.describe('deployments')).toBeNull();
    await again.close();
  });
});
