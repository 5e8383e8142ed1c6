// Timing: warm up, then run a workload step in growing chunks for a fixed time (or op cap),
// and report ops/s. Rounds of several targets are interleaved by the caller (A B A B ...).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { performance } from 'node:perf_hooks';

setFlagsFromString('--expose-gc');
/** Full GC between measurements, so one target's garbage is not collected on another's clock. */
export const gc = runInNewContext('gc');

/**
 * @typedef {object} Budget
 * @property {number} warmupMs   time spent warming up before measuring
 * @property {number} roundMs    measured time per round (a round ends once this has passed)
 * @property {number} maxOps     op cap per round (bounds slow whole-file writers)
 * @property {number} [maxStepOps] largest chunk handed to one step call
 */

/**
 * Measures one round. `step(n)` performs about `n` operations and returns how many it did.
 * @param {(n: number) => Promise<number>} step
 * @param {Budget} budget
 * @returns {Promise<{ ops: number, ms: number, opsPerSec: number }>}
 */
export async function measure(step, budget) {
  const maxStep = budget.maxStepOps ?? 4096;
  let chunk = 1;
  const warmEnd = performance.now() + budget.warmupMs;
  let warmOps = 0;
  while (performance.now() < warmEnd && warmOps < budget.maxOps / 10) {
    const t = performance.now();
    warmOps += await step(chunk);
    if (performance.now() - t < 5) chunk = Math.min(maxStep, chunk * 2);
  }
  gc();
  // Start measured chunks small again so a slow target cannot overshoot the round by much.
  chunk = Math.max(1, Math.min(chunk, Math.floor(chunk / 2)));
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < budget.roundMs && ops < budget.maxOps) {
    const n = Math.min(chunk, budget.maxOps - ops);
    const t = now;
    ops += await step(n);
    now = performance.now();
    if (now - t < budget.roundMs / 50) chunk = Math.min(maxStep, chunk * 2);
  }
  const ms = now - start;
  return { ops, ms, opsPerSec: (ops / ms) * 1000 };
}

/** Median of numbers (mean of the middle two for even counts). */
export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Rotates a list by `k` places: round k of an interleaved run starts with a different target. */
export function rotate(list, k) {
  const n = list.length;
  if (n === 0) return list;
  const s = k % n;
  return [...list.slice(s), ...list.slice(0, s)];
}
