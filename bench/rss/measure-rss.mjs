// Runs rss/probe.mjs in a fresh node process, so the peak is that of a process that only
// opened the store and read from it. Report VmHWM: getrusage's maxRSS of a spawned child
// can carry over the (much larger) benchmark parent's size from before exec.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));

function once(kind, dir, size) {
  const res = spawnSync(process.execPath, [PROBE, kind, dir, String(size)], { encoding: 'utf8', timeout: 120_000 });
  if (res.status === 0) return JSON.parse(res.stdout.trim().split('\n').pop());
  const lines = (res.stderr || res.error?.message || `exit ${res.status}`).split('\n').map((l) => l.trim());
  return { error: lines.find((l) => /Error|error:/.test(l)) ?? lines.filter(Boolean).slice(0, 2).join(' ') };
}

/**
 * @param {'strata'|'raw'} kind
 * @param {string} dir  the target's store directory
 * @param {number} size
 * @returns {{ maxRssMB: number, vmHwmMB: number, baselineMB: number, found: number, reads: number, ms: number } | { error: string }}
 */
export function measureRss(kind, dir, size) {
  const first = once(kind, dir, size);
  // One retry: a failure can be a dist/ rebuilt under our feet by a concurrent `npm run build`.
  return first.error ? { ...once(kind, dir, size), firstError: first.error } : first;
}
