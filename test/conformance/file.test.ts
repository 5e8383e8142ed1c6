import { join } from 'node:path';
import { runConformance } from './index.js';
import { fileDriver } from '../../src/drivers/file/index.js';

runConformance('file', (dir) => fileDriver({ dir: join(dir, 'store'), lockTimeoutMs: 5_000 }));
runConformance('file (normal durability, tiny compaction threshold)', (dir) =>
  fileDriver({ dir: join(dir, 'store'), durability: 'normal', compactBytes: 512 }),
);
// The encryption layer with record MACs under every suite: it must be invisible to them.
runConformance('file+mac', (dir) => fileDriver({ dir: join(dir, 'store'), lockTimeoutMs: 5_000 }), {
  encryption: { keys: `k1:${Buffer.alloc(32, 7).toString('base64')}`, integrity: 'mac' },
});
