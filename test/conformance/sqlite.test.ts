import { join } from 'node:path';
import { runConformance } from './index.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';

runConformance('sqlite', (dir) => sqliteDriver({ path: join(dir, 'store.db') }));
runConformance('sqlite (normal durability)', (dir) => sqliteDriver({ path: join(dir, 'store.db'), durability: 'normal' }));
runConformance('sqlite (:memory:)', () => sqliteDriver({ path: ':memory:' }));
