import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pino } from 'pino';
import { runConformance } from './index.js';
import { sqliteDriver } from '../../src/drivers/sqlite.js';

runConformance('sqlite', (dir) => sqliteDriver({ path: join(dir, 'store.db') }));
runConformance('sqlite (normal durability)', (dir) => sqliteDriver({ path: join(dir, 'store.db'), durability: 'normal' }));
runConformance('sqlite (:memory:)', () => sqliteDriver({ path: ':memory:' }));
// The encryption layer with record MACs under every suite: it must be invisible to them.
runConformance('sqlite+mac', (dir) => sqliteDriver({ path: join(dir, 'store.db') }), {
  encryption: { keys: `k1:${Buffer.alloc(32, 7).toString('base64')}`, integrity: 'mac' },
});
// The metrics layer and logged handles (a pino logger at debug) under every suite: they must
// be invisible to them, counters written to meta.metrics on close included.
runConformance('sqlite+metrics', (dir) => sqliteDriver({ path: join(dir, 'store.db') }), {
  metrics: true,
  logger: pino({ level: 'debug' }, new Writable({ write: (_chunk, _encoding, done) => done() })),
});
