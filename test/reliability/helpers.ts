// Shared plumbing for the reliability tests: child processes that talk in lines, temp dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as StrataApi from '../../src/index.js';
import type * as FileDriverApi from '../../src/drivers/file/index.js';

/** Absolute path of a child script under test/fixtures/. */
export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export async function tempDir(prefix: string): Promise<{ path: string; dispose(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `strata-rel-${prefix}-`));
  return { path, dispose: () => rm(path, { recursive: true, force: true }) };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child node process whose stdout is split into lines as they arrive. `lines` holds every
 * complete line; a partial last line (the child died mid-write) is kept in `partial`.
 */
export class LineChild {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  partial = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  #exit: Exit | null = null;

  constructor(script: string, args: readonly string[], options: { stdin?: boolean; env?: NodeJS.ProcessEnv } = {}) {
    this.proc = spawn(process.execPath, [script, ...args], {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (chunk: string) => {
      if (this.stderr.length < 20_000) this.stderr += chunk;
    });
    // 'close' fires after stdout and stderr are drained, so every line is in `lines`.
    this.exited = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Resolves with the first line (already seen or still to come) that passes `test`. */
  waitFor(test: string | ((line: string) => boolean), timeoutMs: number, what = String(test)): Promise<string> {
    const check = typeof test === 'string' ? (line: string) => line === test : test;
    const seen = this.lines.find(check);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; stdout tail: ${this.lines.slice(-5).join(' | ')}; stderr: ${this.stderr}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        test: check,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.#waiters.push(waiter);
      void this.exited.then((exit) => {
        if (!this.#waiters.includes(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`child exited (${exit.code ?? exit.signal}) before ${what}; stderr: ${this.stderr}`));
      });
    });
  }

  /** Waits for the exit; after `timeoutMs` kills the child and rejects. */
  async exit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new Error(`child did not exit within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, unless it already exited. */
  kill(): void {
    if (this.#exit === null && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  send(text: string): void {
    this.proc.stdin!.write(text);
  }
}

/** Runs a child to completion and expects exit code 0. */
export async function runChild(script: string, args: readonly string[], timeoutMs: number): Promise<LineChild> {
  const child = new LineChild(script, args);
  const exit = await child.exit(timeoutMs);
  if (exit.code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${exit.code ?? exit.signal}: ${child.stderr}`);
  return child;
}

/**
 * Waits until every worker printed `R` (ready), sends `go` to all at once (see
 * fixtures/start-barrier.mjs), waits for them to exit 0 and returns the JSON each printed on
 * its `D <json>` line.
 */
export async function runTogether<R>(workers: readonly LineChild[], exitMs = 60_000): Promise<R[]> {
  try {
    await Promise.all(workers.map((w) => w.waitFor('R', 30_000, 'worker ready')));
    for (const w of workers) {
      w.send('go\n');
      w.proc.stdin!.end();
    }
    const exits = await Promise.all(workers.map((w) => w.exit(exitMs)));
    exits.forEach((exit, i) => {
      if (exit.code !== 0) throw new Error(`worker ${i} exited with ${exit.code ?? exit.signal}: ${workers[i]!.stderr}`);
    });
    return workers.map((w) => JSON.parse(w.lines.find((l) => l.startsWith('D '))!.slice(2)) as R);
  } finally {
    for (const w of workers) w.kill();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// The tests run the BUILT package, like the child processes do (`npm test` builds first), so
// parent and children always run the same code even while src/ is being edited. Types come
// from src/.
const dist = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
export const strata = (await import(dist('index.js'))) as typeof StrataApi;
export const fileDrivers = (await import(dist('drivers/file/index.js'))) as typeof FileDriverApi;
