// Helpers for tests that edit export files by hand.
import { createHash } from 'node:crypto';

/** Rewrites the trailer of an NDJSON export text (counts and sha256 per space) so only the records are changed. */
export function retrailer(ndjson: string): string {
  const all = ndjson.split('\n').filter(Boolean);
  const spaces: Record<string, { records: number; sha256: string }> = {};
  let current: { name: string; n: number; hash: ReturnType<typeof createHash> } | null = null;
  let total = 0;
  const close = (): void => {
    if (current !== null) spaces[current.name] = { records: current.n, sha256: current.hash.digest('hex') };
  };
  for (const l of all.slice(1, -1)) {
    if (l.startsWith('{"space":')) {
      close();
      current = { name: (JSON.parse(l) as { space: string }).space, n: 0, hash: createHash('sha256') };
    } else {
      current!.n++;
      total++;
      current!.hash.update(`${l}\n`);
    }
  }
  close();
  return `${[...all.slice(0, -1), JSON.stringify({ end: true, records: total, spaces })].join('\n')}\n`;
}
