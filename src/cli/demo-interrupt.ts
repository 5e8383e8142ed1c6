import type { Cli } from './context.js';
import { formatCount } from './output.js';
import { strataCommand } from './demo-report.js';

/** What an interrupted demo had done when it stopped. */
export interface DemoProgress {
  /** Phases finished, in order (auth, settings, reset, insert, queries, dedupe). */
  phasesDone: string[];
  /** The phase that was running when Ctrl-C came (it was allowed to finish its current step). */
  phase: string | null;
  recordsWritten: number;
  recordsPlanned: number;
  batches: number;
}

/** Thrown between two steps of the demo once Ctrl-C was pressed. */
export class DemoInterrupted extends Error {
  constructor(readonly progress: DemoProgress) {
    super('interrupted');
  }
}

/**
 * Ctrl-C for `strata demo`: the first SIGINT asks the demo to stop after the step it is in
 * (an insertMany batch is atomic, so the store keeps only whole batches) and close the store;
 * a second one quits at once. Without this the default handler kills the process mid-run and
 * nothing says what was written where.
 */
export class DemoStop {
  readonly progress: DemoProgress;
  #requested = false;
  readonly #onSignal: () => void;

  constructor(cli: Cli, recordsPlanned: number) {
    this.progress = { phasesDone: [], phase: null, recordsWritten: 0, recordsPlanned, batches: 0 };
    this.#onSignal = () => {
      if (this.#requested) process.exit(130);
      this.#requested = true;
      cli.note('\nstopping after the current step (Ctrl-C again to quit at once)...');
    };
    process.on('SIGINT', this.#onSignal);
  }

  get requested(): boolean {
    return this.#requested;
  }

  /**
   * Call between steps: throws DemoInterrupted once Ctrl-C was pressed. It first lets the
   * event loop turn, because a signal is delivered there: the sqlite driver's writes resolve
   * as microtasks, so a loop of awaited batches would otherwise never see the SIGINT.
   */
  async check(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#requested) throw new DemoInterrupted({ ...this.progress, phasesDone: [...this.progress.phasesDone] });
  }

  dispose(): void {
    process.off('SIGINT', this.#onSignal);
  }
}

/**
 * The report of an interrupted demo: on stderr always (like an error, even with --quiet), and
 * as one JSON document on stdout with --json.
 */
export function printInterrupted(
  cli: Cli,
  progress: DemoProgress,
  where: { url: string; location: string | null; deployments: number | null },
): void {
  if (cli.json)
    cli.data({ interrupted: true, url: where.url, location: where.location, deployments: where.deployments, ...progress });
  const lines = [
    `interrupted${progress.phase === null ? '' : ` during "${progress.phase}"`}: phases done: ${progress.phasesDone.length === 0 ? 'none' : progress.phasesDone.join(', ')}`,
    `  wrote ${formatCount(progress.recordsWritten)} of ${formatCount(progress.recordsPlanned)} deployment records in ${formatCount(progress.batches)} batches (each batch is atomic: the store holds whole batches only)`,
  ];
  if (where.location === null) lines.push(`  the store (${where.url}) lived in memory and is gone`);
  else {
    lines.push(`  the store is at ${where.location}, closed and consistent`);
    if (where.deployments !== null) lines.push(`  "deployments" now holds ${formatCount(where.deployments)} records`);
  }
  lines.push(`  look at it with \`${strataCommand(where.url)} list\`; run the demo again to start over`);
  process.stderr.write(`${lines.join('\n')}\n`);
}
