// Shared plumbing for the file-driver reliability tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as strataApi from '../../../src/index.js';
import * as fileDriverApi from '../../../src/drivers/file/index.js';

// The tests run the sources; their child processes (the .mjs scripts here) run the build.
export const strata = strataApi;
export const files = fileDriverApi;

export const script = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

/** A temp dir (tmpfs when there is one, `disk` forces os.tmpdir()); call the result to remove it. */
export function tempDir(prefix: string, disk = false): { path: string; dispose(): void } {
  const base = !disk && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const path = mkdtempSync(join(base, `strata-file-${prefix}-`));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

/** mulberry32: seeded randomness, so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child node process whose stdout is collected in lines. */
export class Child {
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  #partial = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.proc = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (c: string) => {
      if (this.stderr.length < 20_000) this.stderr += c;
    });
    this.exited = new Promise((resolve) => this.proc.on('close', (code, signal) => resolve({ code, signal })));
  }
  async waitFor(test: (line: string) => boolean, ms: number): Promise<string> {
    const until = Date.now() + ms;
    for (;;) {
      const found = this.lines.find(test);
      if (found !== undefined) return found;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null)
        throw new Error(`child exited before the line; stderr: ${this.stderr}`);
      if (Date.now() > until) throw new Error(`timed out; lines: ${this.lines.slice(-5).join(' | ')}; stderr: ${this.stderr}`);
      await sleep(5);
    }
  }
  send(text: string): void {
    this.proc.stdin!.write(text);
  }
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
