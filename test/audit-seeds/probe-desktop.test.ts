import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openStore } from '../../src/index.js';
import { openKazari, storeUrl } from '../../examples/desktop/persistence.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
it('probe import v1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  const other = mkdtempSync(join(tmpdir(), 'probe-o-'));
  const v1 = await openStore({ url: storeUrl(dir), encryption: { keys: KEYS } });
  const old = v1.collection('tasks', { key: 'id', indexes: ['status', 'priority', 'createdAt'], encrypt: ['notes'] });
  for (let i = 0; i < 5; i++) await old.insert({ id: `t${i}`, title: `task ${i}`, status: 'todo', tags: [], createdAt: new Date().toISOString() });
  await v1.export(join(dir, 'x.strata'));
  await v1.close();
  const b = await openKazari({ keys: KEYS, dataDir: other });
  await b.importData(join(dir, 'x.strata'));
  console.log('after import', (await b.taskHistory.getAll()).map((t) => t.priority));
  await b.close();
  const b2 = await openKazari({ keys: KEYS, dataDir: other });
  console.log('after reopen', (await b2.taskHistory.getAll()).map((t) => t.priority));
  await b2.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
});
it('probe recovery fresh', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'probe-'));
  let a = await openKazari({ keys: KEYS, dataDir: dir });
  console.log('backups at first open', (await a.store.backups.list()).length);
  for (let i = 0; i < 300; i++) await a.taskHistory.create({ id: `t${i}`, title: `task ${i} ${'x'.repeat(200)}`, status: 'todo' });
  await a.close();
  const file = join(dir, 'kazari.db');
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 2));
  closeSync(fd);
  try {
    a = await openKazari({ keys: KEYS, dataDir: dir, recover: true });
    console.log('recovered', a.recovered, (await a.taskHistory.getAll()).length);
    await a.close();
  } catch (e) { console.log('recover threw', (e as Error).message); }
  console.log(readdirSync(dir));
  rmSync(dir, { recursive: true, force: true });
});
