#!/usr/bin/env node
// `npm run bench` entry: Strata vs raw better-sqlite3 and peer libraries, side by side.
//
//   node bench/run.mjs                      sizes 20k and 1M, prints the tables
//   node bench/run.mjs --write              ... and rewrites bench/RESULTS.md
//   node bench/run.mjs --quick              smoke run: 2k records, short rounds
//   options: --sizes 20000,1000000  --rounds 5  --round-ms 600  --warmup-ms 250  --max-ops 1000
//            --max-workload-s 25 (per library and workload)
//            --peer-max 20000  --only strata-sqlite,raw-sqlite  --workloads seq-set,random-get
//            --keep-data  --no-ops (skip the metrics, journal, backup and transfer scripts)
//            --json out.json (save raw results)  --from-json out.json (re-render, no run)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ensureDeps, nativeProblems } from './lib/deps.mjs';
import { performance } from 'node:perf_hooks';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DATA = `${HERE}.data`;
const RESULTS = `${HERE}RESULTS.md`;
/** Hand-written analysis between these markers survives `--write`. */
const KEEP_START = '<!-- analysis:start -->';
const KEEP_END = '<!-- analysis:end -->';

function parseArgs(argv) {
  const opts = {
    sizes: [20_000, 1_000_000],
    rounds: 5,
    roundMs: 600,
    warmupMs: 250,
    maxOps: 1000,
    maxWorkloadMs: 25_000,
    peerMax: 20_000,
    write: false,
    keepData: false,
  };
  const num = (v, name) => {
    const n = Number(String(v).replace(/_/g, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--quick':
        Object.assign(opts, { sizes: [2000], rounds: 2, roundMs: 250, warmupMs: 100, maxOps: 200, quick: true });
        break;
      case '--sizes':
        opts.sizes = next()
          .split(',')
          .map((s) => num(s, 'sizes'));
        break;
      case '--rounds':
        opts.rounds = num(next(), 'rounds');
        break;
      case '--round-ms':
        opts.roundMs = num(next(), 'round-ms');
        break;
      case '--warmup-ms':
        opts.warmupMs = Number(next());
        break;
      case '--max-ops':
        opts.maxOps = num(next(), 'max-ops');
        break;
      case '--max-workload-s':
        opts.maxWorkloadMs = num(next(), 'max-workload-s') * 1000;
        break;
      case '--peer-max':
        opts.peerMax = num(next(), 'peer-max');
        break;
      case '--only':
        opts.only = next().split(',');
        break;
      case '--workloads':
        opts.workloads = next().split(',');
        break;
      case '--write':
        opts.write = true;
        break;
      case '--keep-data':
        opts.keepData = true;
        break;
      case '--no-ops':
        opts.noOps = true;
        break;
      case '--json':
        opts.json = next();
        break;
      case '--from-json':
        opts.fromJson = next();
        break;
      case '--help':
      case '-h':
        console.log(
          readFileSync(fileURLToPath(import.meta.url), 'utf8')
            .split('\n')
            .slice(1, 11)
            .join('\n')
            .replace(/^\/\/ ?/gm, ''),
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg} (try --help)`);
    }
  }
  return opts;
}

function strataSqliteVersion() {
  try {
    const Database = createRequire(`${HERE}../package.json`)('better-sqlite3');
    const db = new Database(':memory:');
    const v = db.prepare('SELECT sqlite_version()').pluck().get();
    db.close();
    return v;
  } catch {
    return 'unknown';
  }
}

function keptAnalysis() {
  if (!existsSync(RESULTS)) return null;
  const text = readFileSync(RESULTS, 'utf8');
  const a = text.indexOf(KEEP_START);
  const b = text.indexOf(KEEP_END);
  return a >= 0 && b > a ? text.slice(a, b + KEEP_END.length) : null;
}

/** Prints the Markdown; with --write also rewrites RESULTS.md, keeping the analysis section. */
function publish(run, opts, render, log) {
  const { markdown, goals } = render(run);
  console.log(markdown);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(run, null, 2));
  if (opts.write) {
    const kept = keptAnalysis();
    writeFileSync(RESULTS, kept ? markdown.replace('## Targets', `${kept}\n\n## Targets`) : markdown);
    // `npm run lint` checks Markdown with prettier too: keep the generated file in its style.
    const prettier = `${HERE}../node_modules/prettier/bin/prettier.cjs`;
    if (existsSync(prettier))
      spawnSync(process.execPath, [prettier, '--write', '--log-level', 'warn', RESULTS], { stdio: 'inherit' });
    log(`bench: wrote ${RESULTS}`);
  }
  const count = (verdict) => goals.filter((g) => g.verdict === verdict).length;
  log(`bench: ${count('PASS')} targets pass, ${count('FAIL')} fail, ${count('n/a')} not measured at these sizes`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (line) => process.stderr.write(`${line}\n`);
  if (opts.fromJson) {
    const { render } = await import('./report.mjs');
    return publish(JSON.parse(readFileSync(opts.fromJson, 'utf8')), opts, render, log);
  }
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('dist/index.js is missing: run `npm run build` in the repository root first (npm run bench does)');
  }
  ensureDeps(log, opts.only);
  // Imported after the install, since they load the peer libraries.
  const { targetsFor, companionsFor } = await import('./targets/index.mjs');
  const { rawSqliteVersion } = await import('./targets/raw-sqlite.mjs');
  const { runSize } = await import('./lib/suite.mjs');
  const { machineNotes } = await import('./lib/machine.mjs');
  const { render } = await import('./report.mjs');

  const problems = nativeProblems();
  for (const [id, why] of Object.entries(problems)) log(`bench: skipping ${id}: ${why}`);
  mkdirSync(DATA, { recursive: true });
  const machine = machineNotes(DATA, { strata: strataSqliteVersion(), raw: problems['raw-sqlite'] ? 'n/a' : rawSqliteVersion() });
  log(
    `bench: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAvg}, fsync ${machine.fsyncUs} µs; sizes ${opts.sizes.join(', ')}`,
  );

  const started = performance.now();
  const sizes = [];
  const largest = Math.max(...opts.sizes);
  const smallest = Math.min(...opts.sizes);
  try {
    for (const size of opts.sizes) {
      const targets = targetsFor(size, opts).filter((t) => !problems[t.id]);
      log(`bench: ${size} records: ${targets.map((t) => t.id).join(', ')}`);
      sizes.push(
        await runSize(size, targets, {
          dataDir: DATA,
          rounds: opts.rounds,
          roundMs: opts.roundMs,
          warmupMs: opts.warmupMs,
          maxOps: opts.maxOps,
          maxWorkloadMs: opts.maxWorkloadMs,
          workloads: opts.workloads,
          // The largest store also measures the smallest size's sqlite stores alongside (flat with size).
          companions: size === largest && smallest < largest ? companionsFor(smallest, opts) : [],
          rss: size === largest,
          keepData: opts.keepData,
          log,
        }),
      );
    }
  } finally {
    if (!opts.keepData) rmSync(DATA, { recursive: true, force: true });
  }
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--write' && a !== '--json' && all[i - 1] !== '--json');
  const run = {
    date: new Date().toISOString().slice(0, 10),
    machine,
    settings: { ...opts, command: `node bench/run.mjs${args.length ? ` ${args.join(' ')}` : ''}` },
    sizes,
    durationS: Math.round((performance.now() - started) / 1000),
  };
  publish(run, opts, render, log);
  if (opts.noOps) return;
  // Issue 9: what metrics cost on kv get, side by side (recorded by hand in RESULTS.md, "Metrics (issue 9)").
  const { metricsCost } = await import('./metrics-cost.mjs');
  await metricsCost({ log });
  // Issue 9: journaled vs unjournaled durable sets (its own script; recorded by hand in RESULTS.md).
  spawnSync(process.execPath, [`${HERE}ops-journal.mjs`, ...(opts.quick ? ['--quick'] : [])], { stdio: 'inherit' });
  // Issue 9 operations benches, each a script of its own printing its table (RESULTS.md by hand).
  if (!opts.quick) {
    for (const script of ['ops-backup.mjs']) spawnSync(process.execPath, [`${HERE}${script}`], { stdio: 'inherit' });
  }
  // Export and import (issue 9): its own script, child processes per step (see bench/ops-transfer.mjs).
  const transfer = spawnSync(
    process.execPath,
    [`${HERE}ops-transfer.mjs`, ...(opts.quick ? ['--quick'] : []), ...(opts.write ? ['--write'] : [])],
    { stdio: 'inherit' },
  );
  if (transfer.status !== 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`bench: ${error.stack ?? error}`);
  process.exitCode = 1;
});
