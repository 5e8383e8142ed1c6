// The targets from the benchmark issue, checked against measured results.
import { median } from './measure.mjs';

const FLAT = ['seq-set', 'random-get', 'batch-set', 'reopen-read', 'query', 'mix'];

/**
 * @typedef {object} Goal
 * @property {string} name
 * @property {string} measured   e.g. "0.91x (182k / 200k)"
 * @property {string} threshold
 * @property {'PASS'|'FAIL'|'n/a'} verdict
 */

export function fmtOps(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(1);
}

/** 12x, 3.4x, 0.71x, 0.0042x */
export function fmtRatio(r) {
  if (r === undefined || !Number.isFinite(r)) return '-';
  if (r >= 10) return `${r.toFixed(0)}x`;
  if (r >= 0.01) return `${r.toFixed(2)}x`;
  return `${r.toPrecision(2)}x`;
}

export function sizeLabel(size) {
  if (size >= 1e6 && size % 1e6 === 0) return `${size / 1e6}M`;
  if (size >= 1e3 && size % 1e3 === 0) return `${size / 1e3}k`;
  return String(size);
}

/**
 * a / b for one workload of one size: the median of the per-round ratios (each round measures
 * a and b moments apart, so shared-machine noise mostly cancels), or the ratio of medians
 * when no round has both.
 */
export function ratioOf(sizeResult, workload, a, b) {
  const A = sizeResult?.workloads?.[workload]?.[a];
  const B = sizeResult?.workloads?.[workload]?.[b];
  if (!A || !B) return undefined;
  const pairs = [];
  for (let i = 0; i < Math.min(A.rounds.length, B.rounds.length); i++) {
    if (A.rounds[i] != null && B.rounds[i] != null) pairs.push(A.rounds[i] / B.rounds[i]);
  }
  return pairs.length > 0 ? median(pairs) : A.median / B.median;
}

function goal(name, sizeResult, workload, a, b, min) {
  const r = ratioOf(sizeResult, workload, a, b);
  if (r === undefined) return { name, measured: 'not measured', threshold: `>= ${min}x`, verdict: 'n/a' };
  const ops = (id) => fmtOps(sizeResult.workloads[workload][id].median);
  return {
    name,
    measured: `${fmtRatio(r)} (${ops(a)} / ${ops(b)})`,
    threshold: `>= ${min}x`,
    verdict: r >= min ? 'PASS' : 'FAIL',
    ratio: r,
  };
}

/**
 * @param {Array<object>} sizes  results of runSize, in run order
 * @returns {Goal[]}
 */
export function checkGoals(sizes) {
  const goals = [];
  const main = sizes.filter((s) => s.targets.includes('strata-sqlite'));
  for (const s of main) {
    const at = `@${sizeLabel(s.size)}`;
    goals.push(goal(`sqlite get >= 0.8x raw better-sqlite3 get ${at}`, s, 'random-get', 'strata-sqlite', 'raw-sqlite', 0.8));
    goals.push(
      goal(`sqlite durable set >= 0.7x raw set (both synchronous=FULL) ${at}`, s, 'seq-set', 'strata-sqlite', 'raw-sqlite', 0.7),
    );
    goals.push(goal(`sqlite setMany >= 0.8x raw transaction ${at}`, s, 'batch-set', 'strata-sqlite', 'raw-sqlite', 0.8));
  }
  for (const s of main) {
    const at = `@${sizeLabel(s.size)}`;
    for (const [a, b, what] of [
      ['strata-sqlite', 'raw-sqlite', 'no schema'],
      ['strata-sqlite-zod', 'raw-sqlite-zod', 'zod schema on both sides'],
    ]) {
      if (!s.targets.includes(a)) continue;
      goals.push(goal(`collection get >= 0.8x raw SELECT + JSON.parse (${what}) ${at}`, s, 'c-get', a, b, 0.8));
      goals.push(goal(`collection durable set >= 0.7x raw upsert (${what}) ${at}`, s, 'c-set', a, b, 0.7));
      goals.push(goal(`collection upsertMany >= 0.8x raw transaction (${what}) ${at}`, s, 'c-upsert-many', a, b, 0.8));
    }
  }
  for (const s of main.filter((x) => x.targets.includes('strata-sqlite-enc'))) {
    const at = `@${sizeLabel(s.size)}`;
    const [enc, plain] = ['strata-sqlite-enc', 'strata-sqlite'];
    goals.push(goal(`encrypted kv get >= 0.5x unencrypted kv get ${at}`, s, 'random-get', enc, plain, 0.5));
    goals.push(goal(`encrypted kv durable set >= 0.9x unencrypted ${at}`, s, 'seq-set', enc, plain, 0.9));
    goals.push(goal(`collection with 1 encrypted field of 8: durable set >= 0.7x without ${at}`, s, 'c-set', enc, plain, 0.7));
    goals.push(goal(`collection with 1 encrypted field of 8: get >= 0.5x without ${at}`, s, 'c-get', enc, plain, 0.5));
  }
  for (const s of main.filter((x) => x.targets.includes('keyv'))) {
    const at = `@${sizeLabel(s.size)}`;
    goals.push(goal(`sqlite get >= 10x keyv + @keyv/sqlite ${at}`, s, 'random-get', 'strata-sqlite', 'keyv', 10));
    goals.push(goal(`sqlite durable set >= 3x keyv + @keyv/sqlite ${at}`, s, 'seq-set', 'strata-sqlite', 'keyv', 3));
  }
  const s20k = sizes.find((s) => s.size === 20_000);
  for (const peer of ['lowdb', 'conf']) {
    const name = `file driver durable set >= 20x ${peer} @20k`;
    if (!s20k) goals.push({ name, measured: 'size 20k not run', threshold: '>= 20x', verdict: 'n/a' });
    else goals.push(goal(name, s20k, 'seq-set', 'strata-file', peer, 20));
  }
  const big = sizes.find((s) => s.size === 1_000_000);
  const companion = 'strata-sqlite@20000';
  for (const w of FLAT) {
    const name = `flat with size: sqlite ${w} @1M >= 0.7x @20k (side by side)`;
    if (!big?.targets.includes(companion))
      goals.push({ name, measured: 'sizes 20k and 1M not both run', threshold: '>= 0.7x', verdict: 'n/a' });
    else goals.push(goal(name, big, w, 'strata-sqlite', companion, 0.7));
  }
  const rss = big?.rss?.strata;
  const name = 'open 1M-record sqlite store + 1,000 random gets: peak RSS < 150 MB';
  if (!rss) goals.push({ name, measured: big ? 'not measured' : 'size 1M not run', threshold: '< 150 MB', verdict: 'n/a' });
  else if (rss.error) goals.push({ name, measured: `probe failed: ${rss.error}`, threshold: '< 150 MB', verdict: 'FAIL' });
  else {
    // VmHWM is this process's own peak; getrusage maxRSS can carry the parent's size over fork+exec.
    const peak = rss.vmHwmMB || rss.maxRssMB;
    goals.push({
      name,
      measured: `${peak} MB (node baseline ${rss.baselineMB} MB; ${rss.rssAnonMB} MB private)`,
      threshold: '< 150 MB',
      verdict: peak < 150 ? 'PASS' : 'FAIL',
    });
  }
  return goals;
}
