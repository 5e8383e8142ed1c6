import type CliProgress from 'cli-progress';
import { loadDependency } from '../lazy-load.js';
import type { Cli } from './context.js';

/** A progress bar, or nothing at all when no person is watching. */
export interface Progress {
  advance(by: number): void;
  stop(): void;
}

const NONE: Progress = { advance: () => {}, stop: () => {} };

/**
 * A bar on stderr for long work, on a terminal. When stderr is not a terminal (a log, a CI
 * job), plain lines instead: one at every tenth of the work, free of control characters.
 * Nothing with --json or --quiet.
 */
export function progress(cli: Cli, label: string, total: number): Progress {
  if (cli.json || cli.quiet || total <= 0) return NONE;
  if (!process.stderr.isTTY) return plainLines(label, total);
  const cliProgress = loadDependency('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label.padEnd(12)} {bar} {percentage}% | {value}/{total} | {rate}/s | eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
      fps: 15,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let value = 0;
  bar.start(total, 0, { rate: 0 });
  return {
    advance(by) {
      value += by;
      bar.update(value, { rate: Math.round((value / Math.max(Date.now() - started, 1)) * 1000) });
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * Progress that a callback reports as "done so far, of total" (what every `onProgress` of the
 * store gives): the bar is made on the first report, and made anew when `label` changes (a
 * new phase); each report moves it to `done`.
 */
export function progressTo(cli: Cli): { update(label: string, done: number, total: number): void; stop(): void } {
  let bar: Progress | undefined;
  let current: string | undefined;
  let shown = 0;
  return {
    update(label, done, total) {
      if (label !== current) {
        bar?.stop();
        bar = progress(cli, label, total);
        current = label;
        shown = 0;
      }
      bar!.advance(done - shown);
      shown = done;
    },
    stop: () => bar?.stop(),
  };
}

/** `label: 40% (4,000 of 10,000)` at each tenth reached. */
function plainLines(label: string, total: number): Progress {
  let value = 0;
  let shownTenth = 0;
  const started = Date.now();
  const format = (n: number): string => n.toLocaleString('en-US');
  return {
    advance(by) {
      value += by;
      const tenth = Math.min(10, Math.floor((value / total) * 10));
      if (tenth <= shownTenth) return;
      shownTenth = tenth;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stderr.write(`${label}: ${tenth * 10}% (${format(Math.min(value, total))} of ${format(total)}, ${seconds} s)\n`);
    },
    stop() {},
  };
}
