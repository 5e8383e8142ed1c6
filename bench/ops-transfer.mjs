#!/usr/bin/env node
// Export and import on sqlite (issue 9): records/s each way, and import peak RSS at 100k vs 1M
// records, each run in its own child process (its maxRSS is the peak of that run alone).
//
//   node bench/ops-transfer.mjs                 100k and 1M records
//   node bench/ops-transfer.mjs --quick         20k and 100k
//   node bench/ops-transfer.mjs --write         ... and records the numbers in bench/RESULTS.md
//   options: --sizes 100000,1000000
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DIST = join(HERE, '..', 'dist', 'index.js');
const DATA = join(HERE, '.data', 'transfer');
const RESULTS = join(HERE, 'RESULTS.md');
const START = '<!-- transfer:start -->';
const END = '<!-- transfer:end -->';

/** A record like an app's: a small object with a few fields. */
const value = (i) => ({ id: i, name: `user-${i}`, email: `user${i}@example.com`, active: i % 3 !== 0, tags: ['a', 'b'] });

async function child(role, dir, size) {
  const { openStore } = await import(DIST);
  const started = performance.now();
  let out;
  if (role === 'seed') {
    const store = await openStore({ url: `sqlite:${join(dir, 'source.db')}`, sweepInterval: false, durability: 'normal' });
    const kv = store.kv('bench');
    for (let i = 0; i < size; i += 10_000) {
      const batch = [];
      for (let j = i; j < Math.min(size, i + 10_000); j++) batch.push([`k${String(j).padStart(8, '0')}`, value(j)]);
      await kv.setMany(batch);
    }
    await store.close();
    out = {};
  } else if (role === 'export') {
    const store = await openStore({ url: `sqlite:${join(dir, 'source.db')}`, sweepInterval: false });
    const t = performance.now();
    const report = await store.export(join(dir, 'out.strata'));
    out = { ms: performance.now() - t, records: report.records, bytes: report.bytes };
    await store.close();
  } else {
    // import-nommap: the same without SQLite's memory map, whose file pages count in RSS.
    const url = role === 'import' ? `sqlite:${join(dir, 'target.db')}` : `sqlite:${join(dir, 'target-nommap.db')}?mmap=0`;
    const store = await openStore({ url, sweepInterval: false });
    const t = performance.now();
    const report = await store.import(join(dir, 'out.strata'), { mode: 'replace' });
    out = { ms: performance.now() - t, records: report.records };
    await store.close();
  }
  out.totalMs = performance.now() - started;
  out.maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function run(role, dir, size) {
  const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', role, dir, String(size)], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`${role} ${size} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1));
}

function measure(size) {
  const dir = join(DATA, String(size));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('seed', dir, size);
  const exported = run('export', dir, size);
  const imported = run('import', dir, size);
  const plain = run('import-nommap', dir, size);
  const dbBytes = statSync(join(dir, 'source.db')).size;
  return {
    size,
    exportPerS: Math.round(size / (exported.ms / 1000)),
    importPerS: Math.round(size / (imported.ms / 1000)),
    exportMs: Math.round(exported.ms),
    importMs: Math.round(imported.ms),
    fileMb: +(exported.bytes / 2 ** 20).toFixed(1),
    dbMb: +(dbBytes / 2 ** 20).toFixed(1),
    exportRssMb: Math.round(exported.maxRssMb),
    importRssMb: Math.round(imported.maxRssMb),
    importNoMmapRssMb: Math.round(plain.maxRssMb),
    importNoMmapPerS: Math.round(size / (plain.ms / 1000)),
  };
}

function render(rows, date) {
  const [small, large] = [rows[0], rows.at(-1)];
  const ratio = (large.importRssMb / small.importRssMb).toFixed(2);
  const ratioNoMmap = (large.importNoMmapRssMb / small.importNoMmapRssMb).toFixed(2);
  const lines = [
    START,
    `## Export and import (issue 9)`,
    '',
    `Measured ${date} with \`node bench/ops-transfer.mjs\` on this machine (sqlite, kv records of ~110 bytes of JSON,`,
    'each step in its own child process; import is `mode: replace` into a new store, both passes included).',
    'Targets: export and import >= 100k records/s; import peak RSS at 1M within 1.5x of 100k.',
    '',
    '| records | export rec/s | import rec/s | export | import | file | store | export peak RSS | import peak RSS | import peak RSS, `?mmap=0` | import rec/s, `?mmap=0` |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.size.toLocaleString('en-US')} | ${r.exportPerS.toLocaleString('en-US')} | ${r.importPerS.toLocaleString('en-US')} | ${r.exportMs} ms | ${r.importMs} ms | ${r.fileMb} MiB | ${r.dbMb} MiB | ${r.exportRssMb} MiB | ${r.importRssMb} MiB | ${r.importNoMmapRssMb} MiB | ${r.importNoMmapPerS.toLocaleString('en-US')} |`,
    ),
    '',
    `Import peak RSS ${large.size.toLocaleString('en-US')} / ${small.size.toLocaleString('en-US')}: **${ratio}x** with the default 256 MiB`,
    `memory map (mapped file pages count in RSS), **${ratioNoMmap}x** with \`?mmap=0\`.`,
    END,
  ];
  return lines.join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], argv[2], Number(argv[3]));
  if (!existsSync(DIST)) throw new Error('dist/ is missing: run `npm run build` first');
  let sizes = argv.includes('--quick') ? [20_000, 100_000] : [100_000, 1_000_000];
  const at = argv.indexOf('--sizes');
  if (at >= 0) sizes = argv[at + 1].split(',').map(Number);
  const rows = [];
  try {
    for (const size of sizes) {
      process.stderr.write(`bench transfer: ${size} records...\n`);
      rows.push(measure(size));
    }
  } finally {
    rmSync(DATA, { recursive: true, force: true });
  }
  const section = render(rows, new Date().toISOString().slice(0, 10));
  process.stdout.write(`${section}\n`);
  if (argv.includes('--write')) {
    const text = readFileSync(RESULTS, 'utf8');
    const s = text.indexOf(START);
    const e = text.indexOf(END);
    writeFileSync(
      RESULTS,
      s >= 0 && e > s ? text.slice(0, s) + section + text.slice(e + END.length) : `${text.trimEnd()}\n\n${section}\n`,
    );
  }
}

main().catch((error) => {
  console.error(`bench transfer: ${error.stack ?? error}`);
  process.exitCode = 1;
});
