#!/usr/bin/env node
// CPU profile of one workload on one target, to find hot spots behind a failing ratio.
//   node bench/profile.mjs random-get [--target strata-sqlite] [--size 20000] [--ms 3000] [--top 25]
// Prints self and total time per function (dist/ paths mapped back to their src/ names) and
// writes the .cpuprofile under bench/.data/ for Chrome DevTools / speedscope.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keys as allKeys, pendingCount, rng, valuePool } from './lib/data.mjs';
import { ALL } from './targets/index.mjs';
import { WORKLOADS } from './workloads/index.mjs';
import { performance } from 'node:perf_hooks';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const workload = WORKLOADS.find((w) => w.id === argv[0]);
if (!workload) throw new Error(`usage: profile.mjs <${WORKLOADS.map((w) => w.id).join('|')}> [--target id] [--size n] [--ms n]`);
const target = ALL.find((t) => t.id === flag('target', 'strata-sqlite'));
const size = Number(flag('size', 20000));
const ms = Number(flag('ms', 3000));
const top = Number(flag('top', 25));

const dir = join(HERE, '.data', `profile-${target.id}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
await target.prefill(dir, size, Boolean(target.query || target.coll));
let handle = await target.open(dir);
const random = rng(size);
const ctx = {
  size,
  keys: allKeys(size),
  picks: Uint32Array.from({ length: 65536 }, () => Math.floor(random() * size)),
  values: valuePool(),
  pending: pendingCount(size),
  target,
  dir,
  cursors: {},
  handle: () => handle,
  setHandle: (h) => (handle = h),
};
const step = workload.step(handle, ctx);
await step(workload.id === 'reopen-read' ? 1 : 1000); // warm-up

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
let ops = 0;
const start = performance.now();
while (performance.now() - start < ms) ops += await step(workload.id === 'reopen-read' ? 1 : 256);
const elapsed = performance.now() - start;
const { profile } = await session.post('Profiler.stop');
session.disconnect();
await handle.close();
const file = join(HERE, '.data', `${workload.id}-${target.id}.cpuprofile`);
writeFileSync(file, JSON.stringify(profile));
rmSync(dir, { recursive: true, force: true });

// Self time per node, then per function; total time = self time of the node and its subtree.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++)
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0));
const name = (n) => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/.*\/(dist|bench|node_modules)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
};
const self = new Map();
const total = new Map();
const visit = (id, onStack) => {
  const n = byId.get(id);
  const key = name(n);
  let sum = selfUs.get(id) ?? 0;
  self.set(key, (self.get(key) ?? 0) + sum);
  const first = !onStack.has(key);
  onStack.add(key);
  for (const c of n.children ?? []) sum += visit(c, onStack);
  if (first) {
    onStack.delete(key);
    total.set(key, (total.get(key) ?? 0) + sum);
  }
  return sum;
};
visit(profile.nodes[0].id, new Set());
const all = [...selfUs.values()].reduce((a, b) => a + b, 0);
const pct = (us) => `${((us / all) * 100).toFixed(1)}%`.padStart(6);
console.log(
  `${workload.id} on ${target.label} at ${size} records: ${Math.round((ops / elapsed) * 1000)} ops/s while profiling; profile: ${file}`,
);
console.log('\nself time:');
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
console.log('\ntotal time (dist/ only):');
for (const [k, us] of [...total]
  .filter(([k]) => k.includes('dist/'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`${pct(us)}  ${k}`);
