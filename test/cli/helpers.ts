import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

// Runs the built CLI (`npm test` builds first) as a user would.
const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'dist/cli/main.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function requireBuild(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm test does)`);
}

function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (extra.STRATA_URL === undefined) delete env.STRATA_URL;
  delete env.STRATA_DEBUG;
  return env;
}

/** Spawns `strata ...args`; fails the test unless the process exits by itself within 30 s. */
export function strata(args: string[], options: { cwd: string; env?: Record<string, string> }): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: environment(options.env),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error) throw result.error;
  expect(result.signal, `strata ${args.join(' ')} did not exit by itself`).toBeNull();
  return { code: result.status!, stdout: result.stdout, stderr: result.stderr };
}

/** A `strata` process running in the background, to interrupt. */
export function startStrata(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: environment(options.env) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Run & { signal: NodeJS.Signals | null }>((resolveRun, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`strata ${args.join(' ')} did not exit within 30 s`));
    }, 30_000);
    // 'close' comes after the process exited and its pipes were drained.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? -1, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** The code of the `error <CODE>: ...` line on stderr. */
export function errorCode(run: Run): string | undefined {
  return /^error ([A-Z_]+):/m.exec(run.stderr)?.[1];
}
