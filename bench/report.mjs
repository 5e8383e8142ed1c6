// Renders a run's results as Markdown: machine notes, ops/s and ratio tables per size, the
// targets with PASS/FAIL, and the per-round numbers.
import { ALL } from './targets/index.mjs';
import { WORKLOADS } from './workloads/index.mjs';
import { checkGoals, fmtOps, fmtRatio, ratioOf, sizeLabel } from './lib/goals.mjs';

const RATIOS = [
  ['strata-sqlite', 'raw-sqlite'],
  ['strata-sqlite-zod', 'raw-sqlite-zod'],
  ['strata-sqlite', 'keyv'],
  ['strata-sqlite', 'lowdb'],
  ['strata-sqlite', 'conf'],
  ['strata-sqlite', 'node-persist'],
  ['strata-sqlite', 'unstorage'],
  ['strata-file', 'lowdb'],
  ['strata-file', 'conf'],
];
const SHORT = {
  'strata-sqlite': 'sqlite',
  'raw-sqlite': 'raw',
  'strata-sqlite-zod': 'sqlite+zod',
  'raw-sqlite-zod': 'raw+zod',
  'strata-file': 'file',
};
/** `strata-sqlite@20000` is a companion runner: the same library on a smaller store, measured alongside. */
const split = (id) => {
  const [base, size] = id.split('@');
  return { base, size: size === undefined ? undefined : Number(size) };
};
const short = (id) => {
  const { base, size } = split(id);
  return `${SHORT[base] ?? base}${size ? `@${sizeLabel(size)}` : ''}`;
};
const labelOf = (id) => {
  const { base, size } = split(id);
  const label = ALL.find((t) => t.id === base)?.label ?? base;
  return size ? `${label} @${sizeLabel(size)}` : label;
};

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function sizeTables(s) {
  const order = ALL.map((t) => t.id);
  const present = [...s.targets].sort(
    (a, b) => order.indexOf(split(a).base) - order.indexOf(split(b).base) || (a.includes('@') ? 1 : -1),
  );
  const workloads = WORKLOADS.filter((w) => s.workloads[w.id]);
  const ops = table(
    ['workload', 'unit', ...present.map(labelOf)],
    workloads.map((w) => [w.title, w.unit, ...present.map((id) => fmtOps(s.workloads[w.id][id]?.median))]),
  );
  const companions = present.filter((id) => id.includes('@')).map((id) => [split(id).base, id]);
  const pairs = [...RATIOS, ...companions].filter(([a, b]) => present.includes(a) && present.includes(b));
  const ratios = table(
    [
      'workload',
      ...pairs.map(([a, b]) =>
        b.includes('@') ? `${short(a)}@${sizeLabel(s.size)} / ${short(b)}` : `${short(a)} / ${short(b)}`,
      ),
    ],
    workloads.map((w) => [w.title, ...pairs.map(([a, b]) => fmtRatio(ratioOf(s, w.id, a, b)))]),
  );
  const prefill = Object.entries(s.prefillMs)
    .map(([id, ms]) => `${labelOf(id)} ${(ms / 1000).toFixed(1)} s`)
    .join(', ');
  const errors = Object.entries(s.errors).map(([k, v]) => `- error in ${k}: ${v}`);
  return [
    `### ${sizeLabel(s.size)} records`,
    '',
    'Throughput (median of the rounds):',
    '',
    ops,
    '',
    'Ratios (Strata / comparator, median of the per-round ratios; > 1 means Strata is faster):',
    '',
    ratios,
    '',
    `Prefill (not measured): ${prefill}.`,
    ...(errors.length ? ['', ...errors] : []),
  ].join('\n');
}

function roundsBlock(sizes) {
  const lines = [];
  for (const s of sizes) {
    for (const w of WORKLOADS) {
      const byTarget = s.workloads[w.id];
      if (!byTarget) continue;
      const cells = Object.entries(byTarget).map(
        ([id, v]) => `${short(id)} [${v.rounds.map((x) => (x == null ? '-' : fmtOps(x))).join(', ')}]`,
      );
      lines.push(`${sizeLabel(s.size).padEnd(4)} ${w.id.padEnd(12)} ${cells.join('  ')}`);
    }
  }
  return lines.join('\n');
}

/**
 * @param {{ date: string, machine: object, settings: object, sizes: object[], durationS: number }} run
 * @returns {{ markdown: string, goals: import('./lib/goals.mjs').Goal[] }}
 */
export function render(run) {
  const goals = checkGoals(run.sizes);
  const big = Math.max(...run.sizes.map((x) => x.size));
  const small = Math.min(...run.sizes.map((x) => x.size));
  const m = run.machine;
  const durability = ALL.filter((t) => run.sizes.some((s) => s.targets.includes(t.id))).map(
    (t) => `- **${t.label}**: ${t.durability}`,
  );
  const rss = run.sizes
    .filter((s) => s.rss)
    .map((s) =>
      Object.entries(s.rss)
        .map(([k, v]) =>
          v.error
            ? `- ${sizeLabel(s.size)} ${k}: probe failed (${v.error})`
            : `- ${sizeLabel(s.size)} ${k === 'raw' ? 'raw better-sqlite3' : 'Strata sqlite'}: peak RSS (VmHWM) ${v.vmHwmMB} MB (${v.baselineMB} MB after imports; getrusage maxRSS ${v.maxRssMB} MB, which can include the parent's size at fork); after the reads ${v.rssAnonMB} MB private + ${v.rssFileMB} MB mapped file pages (node's own code and the store's memory-mapped pages, which are the kernel's shared page cache); ${v.found}/${v.reads} keys found in ${v.ms} ms`,
        )
        .join('\n'),
    );
  const markdown = [
    '# Strata benchmarks',
    '',
    `Run on ${run.date} with \`${run.settings.command}\` (${run.durationS} s in all).`,
    '',
    'Reproduce: `npm run bench` (builds, installs bench/ peers on first use, prints this page), `npm run bench -- --write` to refresh this file, `node bench/run.mjs --quick` for a 1-minute smoke run, `node bench/profile.mjs <workload>` for a CPU profile of Strata on one workload, `node bench/diagnose.mjs` to attribute the sqlite gaps step by step.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}, ${m.cores} vCPUs shared with other jobs (load average at start: ${m.loadAvg}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}`,
    `- Node ${m.node}; SQLite ${m.sqlite.strata} in Strata's better-sqlite3, ${m.sqlite.raw} in the raw comparator's`,
    `- Disk: median 4 KiB write + fsync ${m.fsyncUs} µs (a durable commit is cheap here; on a laptop SSD or cloud volume it is 0.5-10 ms and durable-write ratios move towards 1)`,
    '',
    '## Method',
    '',
    `- Records: deployment records shaped like seed 000's \`{ id, repoName, branch, status, commit, createdAt, durationMs, triggeredBy }\`, about 200 bytes of JSON; keys \`dep-0000000\`...`,
    `- Each store is prefilled through its batch API, then every workload runs in ${run.settings.rounds} interleaved rounds (round k starts with target k, so A B C / B C A / ...), each a ${run.settings.warmupMs} ms warm-up then ${run.settings.roundMs} ms measured (whole-file and file-per-key peers: no warm-up on writes, at most ${run.settings.maxOps} writes per round; a library whose next round would take it past ${(run.settings.maxWorkloadMs ?? 25000) / 1000} s in one workload stops there); the tables show the median round. A full GC runs between rounds.`,
    '- Strata is used through the built package (`dist/`) with its async API awaited per call; raw better-sqlite3 is called synchronously, as its users do, so the raw ratios include the cost of an async API.',
    "- Query: ~100 `status: 'pending'` documents at every size; Strata `collection(name, { indexes: ['status'] }).query({ status })` vs raw `SELECT ... WHERE json_extract(value, '$.status') = ? ORDER BY key` over an expression index.",
    '- Mix: 90% random gets, 10% durable sets of random existing keys.',
    "- Collection workloads (`c-*`): a collection with `key: 'id'`, `indexes: ['status']` holding every record as a document, vs raw `docs(key, value)` with the same `json_extract(value, '$.status')` index: get = prepared SELECT + JSON.parse; durable set = `upsert` vs one autocommit INSERT ... ON CONFLICT (synchronous=FULL); upsertMany = every document in one call vs one transaction of upserts; page = 50 `status: 'success'` documents per page in key order, resumed from the previous cursor (raw: `key > ?`). The `+ zod` columns declare a zod schema and the raw side runs the same `schema.parse` on every document it writes and reads, so both sides do the same work.",
    `- Peers (keyv, lowdb, conf, node-persist, unstorage) and the file driver run up to ${sizeLabel(run.settings.peerMax)} records.`,
    `- Ratios are the median of per-round ratios (a and b measured moments apart, so load from other jobs on the machine mostly cancels), which can differ a little from the ratio of the medians shown in the throughput table.`,
    ...(big > small
      ? [
          `- Flat with size: the ${sizeLabel(big)} suite also runs Strata sqlite and raw better-sqlite3 on ${sizeLabel(small)}-record stores in the same interleaved rounds (columns "@${sizeLabel(small)}"), so the ${sizeLabel(big)} / ${sizeLabel(small)} ratio is measured side by side too.`,
        ]
      : []),
    '',
    'What a "durable set" is for each library:',
    '',
    ...durability,
    '',
    '## Targets',
    '',
    table(
      ['target', 'measured', 'threshold', 'result'],
      goals.map((g) => [g.name, g.measured, g.threshold, `**${g.verdict}**`]),
    ),
    '',
    '## Results',
    '',
    ...run.sizes.map((s) => `${sizeTables(s)}\n`),
    ...(rss.length ? ['### Peak memory (fresh child process: open store, 1,000 random gets)', '', ...rss, ''] : []),
    '<details><summary>Every round (ops/s)</summary>',
    '',
    '```',
    roundsBlock(run.sizes),
    '```',
    '',
    '</details>',
    '',
  ].join('\n');
  return { markdown, goals };
}
