// `stratadb/kits/sync` is a documented subpath: it resolves for import (from the built
// package, by its own name), exposes the kit, and require() says the package is ESM-only.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, unknown> };

function node(args: string[]): string {
  try {
    return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stderr: string; stdout: string };
    return `${e.stdout}${e.stderr}`;
  }
}

describe('stratadb/kits/sync', () => {
  it('is listed in package.json exports', () => {
    expect(pkg.exports['./kits/sync']).toEqual({
      types: './dist/kits/sync/index.d.ts',
      import: './dist/kits/sync/index.js',
      require: './cjs/esm-only.cjs',
    });
  });

  it('imports by the package name and exposes the kit', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `const kit = await import('stratadb/kits/sync'); console.log(Object.keys(kit).sort().join(','));`,
    ]);
    expect(out.trim().split('\n').pop()).toBe('BEGINNING,END,ItemDetails,RangeSet,SyncStream,toRange');
  });

  it('works end to end from the built package on a memory store', () => {
    const script = `
      const { openStore } = await import('stratadb');
      const { SyncStream } = await import('stratadb/kits/sync');
      const store = await openStore('memory:');
      const stream = new SyncStream(store, 'runs', { collection: store.collection('runs'), cursor: (r) => r.at });
      await stream.save([{ id: 'a', at: '2024-01-01T00:00:00Z' }], { cover: [['2024-01-01', '2024-01-02']], checkpoint: { page: 1 } });
      console.log(JSON.stringify([
        await stream.isPageCovered([{ id: 'a', at: '2024-01-01T00:00:00Z' }]),
        await stream.checkpoint(),
        await store.collection('runs').count(),
      ]));
      await store.close();`;
    const out = node(['--input-type=module', '-e', script]);
    expect(out.trim().split('\n').pop()).toBe('[true,{"page":1},1]');
  });

  it('require() says the package is ESM-only', () => {
    const out = node(['-e', `try { require('stratadb/kits/sync'); } catch (e) { console.log(e.code + ' ' + e.message); }`]);
    expect(out).toContain('ERR_REQUIRE_ESM');
  });
});
