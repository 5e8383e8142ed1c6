import { join } from 'node:path';
import { runConformance } from './index.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';

runConformance('sqlite', (dir) => sqliteDriver({ path: join(dir, 'store.db') }));
runConformance('sqlite (normal durability)', (dir) => sqliteDriver({ path: join(dir, 'store.db'), durability: 'normal' }));
runConformance('sqlite (:memory:)', () => sqliteDriver({ path: ':memory:' }));
// The encryption layer with record MACs under every suite: it must be invisible to them.
runConformance('sqlite+mac', (dir) => sqliteDriver({ path: join(dir, 'store.db') }), {
  encryption: { keys: `k1:${Buffer.alloc(32, 7).toString('base64')}`, integrity: 'mac' },
});
