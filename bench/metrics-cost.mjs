#!/usr/bin/env node
// What metrics (and a logger) cost on the hottest call: kv.get on sqlite, 20k records,
// uniformly random keys. Side by side in one process, rounds interleaved (A B C A B C ...)
// so a busy machine slows every variant alike; the medians of the per-round CPU times are
// compared. Variants: no metrics (the store as before: no layer, no proxy), metrics: true,
// and metrics plus a pino logger at info (failed calls logged; a successful get writes
// nothing). Run by `npm run bench` after the main suite, or alone (needs `npm run build`):
//
//   node bench/metrics-cost.mjs [--records 20000] [--gets 10000] [--rounds 31]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { openStore } from '../dist/index.js';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};

/** Measures and returns `{ rows, ratio }`; `log` gets the table lines. */
export async function metricsCost({ records = 20_000, gets = 10_000, rounds = 31, log = console.log } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'strata-metrics-cost-'));
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const variants = {
    'no metrics': {},
    'metrics: true': { metrics: { flushInterval: false } },
    'metrics + logger (info)': { metrics: { flushInterval: false }, logger: pino({ level: 'info' }, sink) },
  };
  try {
    const keys = Array.from({ length: records }, (_, i) => `user:${String(i).padStart(8, '0')}`);
    const value = (i) => ({ name: `user ${i}`, email: `u${i}@example.com`, plan: i % 3 ? 'free' : 'pro', visits: i });
    const picks = Uint32Array.from({ length: gets }, () => Math.floor(Math.random() * records));
    const handles = [];
    for (const [name, options] of Object.entries(variants)) {
      const store = await openStore({
        url: `sqlite:${join(dir, `${handles.length}.db`)}?durability=normal`,
        sweepInterval: false,
        ...options,
      });
      const kv = store.kv('users');
      for (let at = 0; at < records; at += 5000) await kv.setMany(keys.slice(at, at + 5000).map((k, j) => [k, value(at + j)]));
      handles.push({ name, store, kv, times: [] });
    }
    // CPU time of this process, not wall time: time spent descheduled while other jobs run
    // on the shared cores is not the variant's cost.
    const round = async (kv) => {
      const started = process.cpuUsage();
      for (let i = 0; i < gets; i++) if ((await kv.get(keys[picks[i]])) === null) throw new Error('missing key');
      const used = process.cpuUsage(started);
      return ((used.user + used.system) * 1e3) / gets; // ns per get
    };
    for (const h of handles) for (let w = 0; w < 3; w++) await round(h.kv); // warm-up (JIT, page cache)
    for (let r = 0; r < rounds; r++) for (const h of handles) h.times.push(await round(h.kv));
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const base = median(handles[0].times);
    const rows = handles.map((h) => ({ variant: h.name, nsPerGet: median(h.times), vsNone: median(h.times) / base }));
    // Paired per round too: the median of (variant / no metrics) in the same round.
    for (const row of rows) {
      const h = handles.find((x) => x.name === row.variant);
      row.pairedVsNone = median(h.times.map((t, i) => t / handles[0].times[i]));
    }
    for (const h of handles) await h.store.close();
    log(`metrics cost: sqlite kv.get, ${records} records, ${gets} random gets x ${rounds} rounds (median CPU ns/get)`);
    log('| variant | ns per get | vs no metrics (medians) | vs no metrics (paired per round) |');
    log('| --- | ---: | ---: | ---: |');
    for (const row of rows) {
      log(`| ${row.variant} | ${row.nsPerGet.toFixed(0)} | ${row.vsNone.toFixed(3)}x | ${row.pairedVsNone.toFixed(3)}x |`);
    }
    const metricsRow = rows[1];
    const cost = (metricsRow.pairedVsNone - 1) * 100;
    log(`metrics on kv get: ${cost >= 0 ? '+' : ''}${cost.toFixed(1)}% (target < 5%): ${cost < 5 ? 'PASS' : 'FAIL'}`);
    return { rows, costPercent: cost };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await metricsCost({ records: arg('records', 20_000), gets: arg('gets', 10_000), rounds: arg('rounds', 31) });
}
