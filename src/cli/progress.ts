import cliProgress from 'cli-progress';
import type { Cli } from './context.js';

/** A progress bar, or nothing at all when no person is watching. */
export interface Progress {
  advance(by: number): void;
  stop(): void;
}

const NONE: Progress = { advance: () => {}, stop: () => {} };

/**
 * A bar on stderr for long work. No bar when stderr is not a terminal, or with --json or
 * --quiet: logs and pipes stay free of control characters.
 */
export function progress(cli: Cli, label: string, total: number): Progress {
  if (cli.json || cli.quiet || !process.stderr.isTTY || total <= 0) return NONE;
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
