// damage sweep where the first thing done after the damage is a WRITE (not a read), on
// an encrypted store that went through several compactions (so the snapshots carry different
// seqs) with journal lines after the last one. Each attempt: flip one bit of one file, open,
// write one batch, read everything, verify.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { strata, tempDir } from './helpers.js';
import { fileDriver, fileInternals } from '../../../src/drivers/file/index.js';

// (imported directly: a destructured unique symbol loses its type)
const KEY = 'k1:' + Buffer.alloc(32, 9).toString('base64');
const root = tempDir('flip-write');
afterAll(() => root.dispose());
const NOW = Date.now();

type Files = Map<string, Buffer>;
const load = (dir: string): Files =>
  new Map(
    readdirSync(dir)
      .filter((n) => n === 'journal.log' || n.endsWith('.json'))
      .sort()
      .map((n) => [n, readFileSync(join(dir, n))]),
  );
function put(dir: string, fs: Files): boolean {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let same = true;
  for (const n of readdirSync(dir)) {
    if (fs.has(n)) continue;
    same = false;
    rmSync(join(dir, n), { force: true });
  }
  for (const [n, b] of fs) {
    let cur: Buffer | null = null;
    try {
      cur = readFileSync(join(dir, n));
    } catch {
      cur = null;
    }
    if (cur?.equals(b)) continue;
    same = false;
    writeFileSync(join(dir, n), b, { mode: 0o600 });
  }
  return same;
}

async function dump(d: ReturnType<typeof fileDriver>): Promise<string> {
  const out: unknown[] = [];
  for (const s of await d.spaces())
    out.push([s, (await d.scan(s, {}, NOW)).map((r) => [r.key, r.value, r.version, r.createdAt, r.updatedAt, r.expiresAt])]);
  return JSON.stringify(out);
}

describe('file driver: a flip, then a write before any read', () => {
  // README.md: "A record or header that fails its check is `CORRUPT` ... A complete line that
  // fails its checksum is `CORRUPT`, wherever it is, and nothing is truncated ... Each time,
  // reading back gave the exact data or `CORRUPT` with the files left byte-identical."
  // Every attempt must give CORRUPT with files untouched, or the exact data plus the write.
  it('every flip gives CORRUPT (files untouched) or exactly the data plus the write', async () => {
    const build = join(root.path, 'build');
    const store = await strata.openStore({
      driver: fileDriver({ dir: build, compactBytes: 1 << 30 }),
      encryption: { keys: KEY },
      sweepInterval: false,
    });
    const sec = store.kv('sec', { encrypt: true });
    const plain = store.kv('plain');
    for (let round = 0; round < 3; round++) {
      await sec.set(`s${round}`, { round, secret: 'x'.repeat(20) });
      await plain.setMany([
        [`p${round}`, round],
        ['ttl', { round }],
      ]);
      if (round === 1) await plain.set('gone', 1, { ttl: 1 });
    }
    await store.close();
    // Several compactions by separate driver instances, then lines after the last one.
    for (let round = 0; round < 3; round++) {
      const d = fileDriver({ dir: build, compactBytes: 1 << 30 });
      await d.batch([{ type: 'put', space: 'kv.plain', key: `q${round}`, value: String(round), expiresAt: null }], NOW + round);
      await (await d[fileInternals]()).compact();
      await d.batch([{ type: 'delete', space: 'kv.plain', key: `p${round}` }], NOW + 10 + round);
      if (round < 2) await (await d[fileInternals]()).compact();
      await d.close().catch(() => {});
    }
    const d0 = fileDriver({ dir: build, compactBytes: 1 << 30 });
    await d0.batch([{ type: 'put', space: 'kv.plain', key: 'late', value: '"l"', expiresAt: null }], NOW + 50);
    await d0.batch([{ type: 'put', space: 'kv.sec', key: 's0', value: '"overwritten"', expiresAt: null }], NOW + 51);
    const base = load(build);
    const expected = await (async () => {
      await d0.batch([{ type: 'put', space: 'kv.plain', key: 'probe', value: '1', expiresAt: null }], NOW + 100);
      return dump(d0);
    })();
    await d0.close();
    expect(base.get('journal.log')!.toString().split('\n').length).toBeGreaterThan(2);
    const work = join(root.path, 'work');
    const failures: string[] = [];
    const counts: Record<string, number> = {};
    const started = Date.now();
    for (const [name, bytes] of base) {
      for (let at = 0; at < bytes.length; at++) {
        if (Date.now() - started > 40_000) break;
        const damaged = Buffer.from(bytes);
        damaged[at] = damaged[at]! ^ (1 << (at % 8));
        const attempt = new Map(base).set(name, damaged);
        put(work, attempt);
        const d = fileDriver({ dir: work, compactBytes: 1 << 30 });
        let kind: string;
        try {
          await d.batch([{ type: 'put', space: 'kv.plain', key: 'probe', value: '1', expiresAt: null }], NOW + 100);
          const data = await dump(d);
          const report = await d.verify();
          kind = data === expected ? (report.ok ? 'data' : 'data, verify flags') : `different data`;
        } catch (error) {
          const code = (error as { code?: string }).code;
          kind = code === 'CORRUPT' ? 'corrupt' : `other ${code}: ${(error as Error).message.slice(0, 120)}`;
        }
        await d.close().catch(() => {});
        const untouched = put(work, attempt);
        if (kind === 'corrupt' && !untouched) kind = 'corrupt, files changed';
        counts[kind.split(':')[0]!] = (counts[kind.split(':')[0]!] ?? 0) + 1;
        if (kind !== 'data' && kind !== 'corrupt' && kind !== 'data, verify flags')
          failures.push(`${name} flip at ${at}: ${kind}`);
      }
    }
    console.log(`flip-then-write sweep: ${JSON.stringify(counts)}`);
    expect(failures.slice(0, 10)).toEqual([]);
    expect(counts.corrupt ?? 0).toBeGreaterThan(100);
  }, 60_000);
});
