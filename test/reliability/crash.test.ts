// Crash safety of the durable drivers: a child writes in a loop and is SIGKILLed at a random
// moment; every write it saw acknowledged must survive, the write in flight must be all or
// nothing, and the store must reopen cleanly and verify. The same store is used for every
// round, so each round also recovers from the previous round's recovery.
//
// STRATA_CRASH_ROUNDS (default 100) sets the number of kills per driver.
import { afterAll, describe, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '../../src/index.js';
import { fixture, LineChild, strata, tempDir } from './helpers.js';

const { openStore } = strata;

const ROUNDS = Number(process.env.STRATA_CRASH_ROUNDS ?? 100);
/** Every this many rounds (and after the last), the whole store is compared with the model. */
const FULL_CHECK_EVERY = 20;

interface Effect {
  kv: Record<string, unknown>;
  docs: Record<string, unknown>;
  incr: Record<string, number>;
}

/** What the store must hold: every acknowledged write applied in order. */
class Model {
  readonly kv = new Map<string, unknown>();
  readonly docs = new Map<string, unknown>();

  apply(effect: Effect): void {
    for (const [k, v] of Object.entries(effect.kv))
      if (v === null) this.kv.delete(k);
      else this.kv.set(k, v);
    for (const [k, v] of Object.entries(effect.docs))
      if (v === null) this.docs.delete(k);
      else this.docs.set(k, v);
    for (const [k, by] of Object.entries(effect.incr)) this.kv.set(k, ((this.kv.get(k) as number | undefined) ?? 0) + by);
  }
}

interface RoundLog {
  acked: Effect[];
  inFlight: Effect | null;
  killedEarly: boolean;
}

function parseLog(lines: readonly string[]): RoundLog {
  const pending = new Map<number, Effect>();
  const acked: Effect[] = [];
  for (const line of lines) {
    if (line.startsWith('W ')) {
      const space = line.indexOf(' ', 2);
      pending.set(Number(line.slice(2, space)), JSON.parse(line.slice(space + 1)) as Effect);
    } else if (line.startsWith('A ')) {
      const i = Number(line.slice(2));
      const effect = pending.get(i);
      if (!effect) throw new Error(`ack of unknown write ${i}`);
      pending.delete(i);
      acked.push(effect);
    }
  }
  if (pending.size > 1) throw new Error(`more than one write in flight: ${[...pending.keys()].join(', ')}`);
  return { acked, inFlight: pending.size === 1 ? [...pending.values()][0]! : null, killedEarly: !lines.includes('R') };
}

/** JSON text with object keys sorted, so equality ignores key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);

/** A value for an error message: padding strings shortened to their length. */
const show = (value: unknown): string =>
  JSON.stringify(value, (key, v: unknown) => (key === 'pad' && typeof v === 'string' ? `<${v.length} chars>` : v)) ?? 'undefined';

/**
 * Keeps the evidence of a failed round (the writer's whole log) in a file that outlives the
 * test's temp dir, and returns an Error that points to it.
 */
async function failure(context: string, message: string, lines: readonly string[], stderr: string): Promise<Error> {
  const path = join(tmpdir(), `strata-crash-failure-${Date.now()}.log`);
  await writeFile(path, `${context}\n${message}\n--- writer stdout ---\n${lines.join('\n')}\n--- writer stderr ---\n${stderr}\n`);
  return new Error(`${context}: ${message} (writer log kept in ${path})`);
}

/**
 * The file driver's journal generation (it changes on every compaction), or null when there
 * is no journal (sqlite, or a store not created yet). Only used to report and require that
 * writers were also killed around compactions.
 */
async function journalGeneration(location: string): Promise<string | null> {
  try {
    const text = await readFile(join(location, 'journal.log'), 'utf8');
    const header = text.slice(0, text.indexOf('\n'));
    return String((JSON.parse(header.slice(header.indexOf(' ') + 1)) as { generation?: unknown }).generation);
  } catch {
    return null;
  }
}

interface DriverCase {
  name: 'sqlite' | 'file';
  location(dir: string): string;
  url(location: string): string;
}

const CASES: DriverCase[] = [
  { name: 'sqlite', location: (dir) => join(dir, 'crash.db'), url: (loc) => `sqlite:${loc}` },
  { name: 'file', location: (dir) => join(dir, 'store'), url: (loc) => `file:${loc}` },
];

interface Timings {
  rounds: number;
  earlyKills: number;
  acked: number;
  inFlightApplied: number;
  inFlightLost: number;
  ms: number;
  /** Slowest startup of a writer (spawn to ready) and slowest reopen + verify in the parent. */
  maxReadyMs: number;
  maxReopenMs: number;
  /** Rounds where the reopen + verify took over a second. */
  slowReopens: number;
  /** Rounds in which the killed writer had compacted the store (file driver). */
  compactedRounds: number;
}
const report: Record<string, Timings> = {};

afterAll(() => {
  for (const [name, t] of Object.entries(report)) {
    console.log(
      `[crash] ${name}: ${t.rounds} kills (${t.earlyKills} during startup), ${t.acked} acknowledged writes checked, ` +
        `in-flight write applied ${t.inFlightApplied}x / absent ${t.inFlightLost}x, ${(t.ms / 1000).toFixed(1)} s; ` +
        `slowest writer startup ${t.maxReadyMs} ms, slowest reopen+verify ${t.maxReopenMs} ms, ${t.slowReopens} reopens over 1 s` +
        (t.compactedRounds > 0 ? `, writer compacted in ${t.compactedRounds} rounds` : ''),
    );
  }
});

// The rounds of a driver run as tests of 25 rounds in a row on one store: vitest (3.2, forks)
// reports a test running past 60 s as an unhandled "Timeout calling onTaskUpdate", failing
// the run, and 100 rounds took 63-67 s on a loaded CI host.
const SEGMENTS = Math.max(1, Math.ceil(ROUNDS / 25));

describe.concurrent('crash safety (SIGKILL while writing)', () => {
  for (const c of CASES) {
    describe.sequential(c.name, () => {
      let shared:
        { dir: Awaited<ReturnType<typeof tempDir>>; location: string; model: Model; stats: Timings; started: number } | undefined;
      afterAll(async () => {
        if (shared === undefined) return;
        shared.stats.ms = Date.now() - shared.started;
        report[c.name] = shared.stats;
        await shared.dir.dispose();
      });
      for (let segment = 0; segment < SEGMENTS; segment++) {
        const first = Math.floor((segment * ROUNDS) / SEGMENTS) + 1;
        const last = Math.floor(((segment + 1) * ROUNDS) / SEGMENTS);
        it(`${c.name}: every acknowledged write survives ${ROUNDS} kills, the store reopens and verifies (kills ${first}-${last})`, async ({
          expect,
        }) => {
          if (shared === undefined) {
            const made = await tempDir(`crash-${c.name}`);
            shared = {
              dir: made,
              location: c.location(made.path),
              model: new Model(),
              started: Date.now(),
              stats: {
                rounds: 0,
                earlyKills: 0,
                acked: 0,
                inFlightApplied: 0,
                inFlightLost: 0,
                ms: 0,
                maxReadyMs: 0,
                maxReopenMs: 0,
                slowReopens: 0,
                compactedRounds: 0,
              },
            };
          }
          const { location, model, stats } = shared;
          {
            for (let round = first; round <= last; round++) {
              const seed = (Math.random() * 2 ** 32) >>> 0;
              const context = `${c.name} round ${round} (seed ${seed}, store ${location})`;
              const generationBefore = await journalGeneration(location);
              const spawnedAt = Date.now();
              const child = new LineChild(fixture('crash-writer.mjs'), [c.name, location, String(round), String(seed)]);
              // One round in ten is killed while starting up (possibly mid-recovery).
              const early = round % 10 === 5;
              try {
                if (early) {
                  await new Promise((r) => setTimeout(r, 20 + Math.random() * 120));
                } else {
                  await child.waitFor('R', 30_000, `ready (${context})`);
                  stats.maxReadyMs = Math.max(stats.maxReadyMs, Date.now() - spawnedAt);
                  await new Promise((r) => setTimeout(r, 20 + Math.random() * 180));
                }
                child.kill();
                const exit = await child.exit(10_000);
                if (exit.signal !== 'SIGKILL') {
                  throw new Error(`${context}: the writer exited by itself (${exit.code}) before the kill: ${child.stderr}`);
                }
              } finally {
                child.kill();
              }
              const generationAfter = await journalGeneration(location);
              if (generationBefore !== null && generationAfter !== generationBefore) stats.compactedRounds++;
              const log = parseLog(child.lines);
              if (log.killedEarly) stats.earlyKills++;
              for (const effect of log.acked) model.apply(effect);
              stats.acked += log.acked.length;
              stats.rounds++;

              const reopenedAt = Date.now();
              let store: Store;
              try {
                store = await openStore({ url: c.url(location), sweepInterval: false });
              } catch (error) {
                throw new Error(`${context}: reopening after the kill failed: ${String(error)}`, { cause: error });
              }
              try {
                const verify = await store.verify();
                expect(verify.issues, `${context}: verify`).toEqual([]);
                expect(verify.ok, `${context}: verify`).toBe(true);
                const reopenMs = Date.now() - reopenedAt;
                stats.maxReopenMs = Math.max(stats.maxReopenMs, reopenMs);
                if (reopenMs > 1000) stats.slowReopens++;
                const kv = store.kv('crash');
                const docs = store.collection('docs');

                // The write in flight at the kill: applied entirely or not at all.
                if (log.inFlight) {
                  const applied = new Set<boolean>();
                  const effect = log.inFlight;
                  for (const [k, next] of Object.entries(effect.kv)) {
                    const actual = await kv.get(k);
                    const before = model.kv.get(k) ?? null;
                    if (same(actual, next) && !same(actual, before)) applied.add(true);
                    else if (same(actual, before) && !same(actual, next)) applied.add(false);
                    else if (!same(actual, next)) {
                      const message = `in-flight kv "${k}" is ${show(actual)}; before the write ${show(before)}, the write sets ${show(next)}`;
                      throw await failure(context, message, child.lines, child.stderr);
                    }
                  }
                  for (const [id, next] of Object.entries(effect.docs)) {
                    const actual = await docs.get(id);
                    const before = model.docs.get(id) ?? null;
                    if (same(actual, next) && !same(actual, before)) applied.add(true);
                    else if (same(actual, before) && !same(actual, next)) applied.add(false);
                    else if (!same(actual, next)) {
                      const message = `in-flight doc "${id}" is ${show(actual)}; before the write ${show(before)}, the write sets ${show(next)}`;
                      throw await failure(context, message, child.lines, child.stderr);
                    }
                  }
                  for (const [k, by] of Object.entries(effect.incr)) {
                    const actual = await kv.get(k);
                    const before = (model.kv.get(k) as number | undefined) ?? 0;
                    if (actual === before + by) applied.add(true);
                    else if ((actual ?? 0) === before) applied.add(false);
                    else {
                      const message = `in-flight incr "${k}" is ${show(actual)}, expected ${before} or ${before + by}`;
                      throw await failure(context, message, child.lines, child.stderr);
                    }
                  }
                  if (applied.size > 1) {
                    throw await failure(context, `a batch was applied partially: ${show(effect)}`, child.lines, child.stderr);
                  }
                  if (applied.has(true)) {
                    model.apply(effect);
                    stats.inFlightApplied++;
                  } else stats.inFlightLost++;
                }

                // Everything acknowledged is there with its value.
                const touched = new Set<string>();
                const touchedDocs = new Set<string>();
                for (const effect of log.inFlight ? [...log.acked, log.inFlight] : log.acked) {
                  for (const k of [...Object.keys(effect.kv), ...Object.keys(effect.incr)]) touched.add(k);
                  for (const id of Object.keys(effect.docs)) touchedDocs.add(id);
                }
                const full = round % FULL_CHECK_EVERY === 0 || round === ROUNDS;
                const kvKeys = full ? [...new Set([...model.kv.keys(), ...(await kv.list())])] : [...touched];
                const docIds = full
                  ? [...new Set([...model.docs.keys(), ...(await docs.query()).map((d) => (d as { id: string }).id)])]
                  : [...touchedDocs];
                const kvValues = kvKeys.length > 0 ? await kv.getMany(kvKeys) : [];
                for (const [n, k] of kvKeys.entries()) {
                  const want = model.kv.get(k) ?? null;
                  if (!same(kvValues[n], want)) {
                    throw await failure(
                      context,
                      `kv "${k}" is ${show(kvValues[n])}, expected ${show(want)}`,
                      child.lines,
                      child.stderr,
                    );
                  }
                }
                for (const id of docIds) {
                  const actual = await docs.get(id);
                  const want = model.docs.get(id) ?? null;
                  if (!same(actual, want)) {
                    throw await failure(
                      context,
                      `doc "${id}" is ${show(actual)}, expected ${show(want)}`,
                      child.lines,
                      child.stderr,
                    );
                  }
                }
                if (full) {
                  expect(await kv.count(), `${context}: kv count`).toBe(model.kv.size);
                  expect(await docs.count(), `${context}: doc count`).toBe(model.docs.size);
                }
              } finally {
                await store.close();
              }
              if (c.name === 'file' && (round % FULL_CHECK_EVERY === 0 || round === ROUNDS)) {
                // Crashes mid-compaction or mid-lock must not leave litter that piles up round after
                // round (temp snapshots, lock owner records): two spaces need about three files.
                const files = await readdir(location);
                expect(files.length, `${context}: files left in the store: ${files.join(', ')}`).toBeLessThanOrEqual(8);
              }
            }
            // Recovery is prompt: a kill at any moment must not leave the next process waiting
            // for seconds (e.g. on a lock file its dead owner never filled in).
            expect(
              stats.maxReopenMs,
              `${c.name}: slowest reopen + verify after a kill (${stats.slowReopens} over 1 s)`,
            ).toBeLessThan(3000);
            if (last === ROUNDS) {
              // Each driver wrote something in nearly every round.
              expect(stats.acked).toBeGreaterThan(ROUNDS);
              // The file writers compact at 64 KiB: kills must also have hit stores mid- or post-compaction.
              if (c.name === 'file' && ROUNDS >= 20)
                expect(stats.compactedRounds, 'rounds in which the writer compacted').toBeGreaterThan(0);
            }
          }
        }, 600_000);
      }
    });
  }
});
