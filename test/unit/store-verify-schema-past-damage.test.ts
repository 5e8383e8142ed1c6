// store.verify() checks the documents of every collection declared with a schema in this
// process (README "Store-wide"): a record damaged in another space is reported as CORRUPT and
// does not hide the schema violations elsewhere; the damaged collection itself is not
// schema-checked (its reads would fail on the damaged record), the others are.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openStore } from '../../src/index.js';
import { tableName } from '../../src/drivers/sqlite-spaces.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-verify-schema-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const Task = z.object({ id: z.string(), title: z.string() });

describe('store.verify with a damaged record and a schema violation in different spaces', () => {
  it('reports both', async () => {
    const url = `sqlite:${join(dir, 's.db')}`;
    let store = await openStore({ url, sweepInterval: false });
    await store.collection('tasks').insert({ id: 't1', title: 'ok' });
    await store.collection('tasks').insert({ id: 't2', title: 42 }); // no schema yet: stored as is
    await store.kv('other').set('c', 'value');
    await store.close();
    // As a disk error would: the stored text changes, its checksum does not.
    const db = new Database(join(dir, 's.db'));
    db.prepare(`UPDATE ${tableName('kv.other')} SET value = '"other value"' WHERE key = ?`).run('c');
    db.close();

    store = await openStore({ url, sweepInterval: false });
    try {
      store.collection('tasks', { schema: Task });
      const report = await store.verify();
      expect(report.ok).toBe(false);
      expect(report.issues.map((i) => `${i.code} ${i.space} ${i.key}`).sort()).toEqual([
        'CORRUPT kv.other c',
        'VALIDATION_FAILED c.tasks t2',
      ]);
    } finally {
      await store.close();
    }
  });
});
