// One size: prefill every target's store, open them all, then run each workload in
// interleaved rounds (round k starts at runner k: A B C, B C A, ...) and keep every round,
// so ratios can be taken between runs measured moments apart.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { keys as allKeys, pendingCount, rng, valuePool } from './data.mjs';
import { gc, measure, median, rotate } from './measure.mjs';
import { WORKLOADS } from '../workloads/index.mjs';
import { measureRss } from '../rss/measure-rss.mjs';
import { performance } from 'node:perf_hooks';

/** Libraries that rewrite a whole file (or many files) per write: their write rounds are op-capped. */
const CAPPED = new Set(['lowdb', 'conf', 'keyv', 'node-persist', 'unstorage']);

/**
 * What runs side by side: a target on a store of `size` records. A runner whose size differs
 * from the suite's (a "companion") gets the id `${target.id}@${size}`: the 20k Strata store
 * measured next to the 1M one is what "flat with size" compares.
 * @typedef {{ id: string, target: import('../targets/types.mjs').Target, size: number }} Runner
 */

/**
 * @typedef {object} SuiteOptions
 * @property {string} dataDir
 * @property {number} rounds
 * @property {number} roundMs
 * @property {number} warmupMs
 * @property {number} maxOps        op cap per round for CAPPED targets on write workloads
 * @property {number} maxWorkloadMs  time budget of one runner in one workload (rounds past it are skipped)
 * @property {string[]} [workloads] ids to run (default all)
 * @property {Array<{ target: import('../targets/types.mjs').Target, size: number }>} [companions]
 * @property {boolean} rss          measure peak RSS of a child opening this size's stores
 * @property {boolean} [keepData]   leave the stores in dataDir afterwards
 * @property {(line: string) => void} log
 */

const dataFor = new Map();
function sharedData(size) {
  if (!dataFor.has(size)) {
    const random = rng(size);
    dataFor.set(size, {
      size,
      keys: allKeys(size),
      picks: Uint32Array.from({ length: 65536 }, () => Math.floor(random() * size)),
      values: valuePool(),
      pending: pendingCount(size),
    });
  }
  return dataFor.get(size);
}

async function prepare(runner, base, out, log) {
  const { id, target, size } = runner;
  const dir = join(base, id.replace('@', '-'));
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  try {
    await target.prefill(dir, size, Boolean(target.query || target.coll));
    let current = await target.open(dir);
    out.prefillMs[id] = Math.round(performance.now() - t0);
    log(`  ${out.size}: ${id} (${size} records) prefilled in ${(out.prefillMs[id] / 1000).toFixed(1)} s`);
    return {
      ...runner,
      ctx: { ...sharedData(size), target, dir, cursors: {}, handle: () => current, setHandle: (h) => (current = h) },
    };
  } catch (error) {
    out.errors[id] = `prefill: ${error.message}`;
    log(`  ${out.size}: ${id} FAILED to prefill: ${error.stack}`);
    return null;
  } finally {
    gc();
  }
}

async function runWorkload(workload, runners, opts, out) {
  const rounds = Object.fromEntries(runners.map((r) => [r.id, []]));
  const failed = new Set();
  const stopped = new Set();
  const spentMs = {};
  const lastMs = {};
  for (let round = 0; round < opts.rounds; round++) {
    for (const r of rotate(runners, round)) {
      rounds[r.id][round] = null;
      if (failed.has(r.id)) continue;
      // Bound one library's time in one workload: skip its remaining rounds when the next would overrun.
      if (round > 0 && spentMs[r.id] + lastMs[r.id] > opts.maxWorkloadMs) {
        if (!stopped.has(r.id))
          opts.log(
            `  ${out.size}: ${workload.id} on ${r.id}: stopping after ${round} round(s) (${opts.maxWorkloadMs / 1000} s budget)`,
          );
        stopped.add(r.id);
        continue;
      }
      const capped = workload.slow && CAPPED.has(r.target.id);
      const budget = {
        // A whole-file write takes milliseconds: there is no JIT warm-up worth its time.
        warmupMs: workload.noWarmup || capped ? 0 : opts.warmupMs,
        roundMs: opts.roundMs,
        maxOps: capped ? opts.maxOps : Infinity,
      };
      const began = performance.now();
      try {
        rounds[r.id][round] = (await measure(workload.step(r.ctx.handle(), r.ctx), budget)).opsPerSec;
      } catch (error) {
        failed.add(r.id);
        out.errors[`${workload.id}/${r.id}`] = error.message;
        opts.log(`  ${out.size}: ${workload.id} on ${r.id} FAILED: ${error.stack}`);
      }
      lastMs[r.id] = performance.now() - began;
      spentMs[r.id] = (spentMs[r.id] ?? 0) + lastMs[r.id];
      gc();
    }
  }
  const result = {};
  for (const [id, values] of Object.entries(rounds)) {
    const measured = values.filter((v) => v !== null);
    if (measured.length > 0) result[id] = { median: median(measured), rounds: values };
  }
  return result;
}

/**
 * @param {number} size
 * @param {import('../targets/types.mjs').Target[]} targets
 * @param {SuiteOptions} opts
 */
export async function runSize(size, targets, opts) {
  const log = opts.log;
  const base = join(opts.dataDir, String(size));
  rmSync(base, { recursive: true, force: true });
  /** @type {Runner[]} */
  const wanted = [
    ...targets.map((target) => ({ id: target.id, target, size })),
    ...(opts.companions ?? []).map((c) => ({ id: `${c.target.id}@${c.size}`, target: c.target, size: c.size })),
  ];
  const out = { size, targets: wanted.map((r) => r.id), prefillMs: {}, workloads: {}, errors: {}, rss: null };
  const live = [];
  try {
    for (const runner of wanted) {
      const ready = await prepare(runner, base, out, log);
      if (ready) live.push(ready);
    }
    for (const workload of WORKLOADS) {
      if (opts.workloads && !opts.workloads.includes(workload.id)) continue;
      const t0 = performance.now();
      const runners = live.filter((r) => (workload.needs ? r.target[workload.needs] : !r.target.collectionOnly));
      out.workloads[workload.id] = await runWorkload(workload, runners, opts, out);
      const line = Object.entries(out.workloads[workload.id])
        .map(([id, v]) => `${id} ${Math.round(v.median)}`)
        .join(', ');
      log(`  ${size}: ${workload.id} (${((performance.now() - t0) / 1000).toFixed(1)} s): ${line} ${workload.unit}`);
    }
  } finally {
    for (const r of live) {
      try {
        await r.ctx.handle().close();
      } catch {
        // already closed by a failed reopen
      }
    }
  }
  if (opts.rss) {
    const dirOf = (id) => live.find((r) => r.id === id)?.ctx.dir;
    out.rss = {};
    if (dirOf('strata-sqlite')) out.rss.strata = measureRss('strata', dirOf('strata-sqlite'), size);
    if (dirOf('raw-sqlite')) out.rss.raw = measureRss('raw', dirOf('raw-sqlite'), size);
    log(`  ${size}: peak RSS ${JSON.stringify(out.rss)}`);
  }
  if (!opts.keepData) rmSync(base, { recursive: true, force: true });
  return out;
}
