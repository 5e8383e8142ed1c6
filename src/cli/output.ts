/** Human output helpers: byte units, numbers, durations, aligned tables. */

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` -> `1.5 KiB`. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '-';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${BYTE_UNITS[unit]}`;
}

/** `12345` -> `12,345`. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Milliseconds as `850 ms`, `2.41 s`, `3m 05s`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** Records per second, rounded for reading. */
export function formatRate(count: number, ms: number): string {
  if (count < 100) return '-'; // a rate over a handful of records is noise
  return `${formatCount(Math.round((count / Math.max(ms, 1)) * 1000))}/s`;
}

/** A value as one table cell: strings raw, everything else as compact JSON, cut to `max`. */
export function cell(value: unknown, max = 40): string {
  let text: string;
  if (value === undefined) text = '';
  else if (typeof value === 'string') text = value;
  else text = JSON.stringify(value) ?? String(value);
  text = text.replace(/[\r\n\t]+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const NUMERIC = /^-?[\d,.]+( ?[A-Za-z/%]+)?$/;

/**
 * An aligned plain-text table. Columns whose cells all look numeric are right-aligned.
 * Returns the lines without a trailing newline.
 */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const right = headers.map(
    (_, i) => rows.length > 0 && rows.every((r) => r[i] === undefined || r[i] === '' || r[i] === '-' || NUMERIC.test(r[i]!)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    line(headers),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(headers.map((_, i) => r[i] ?? ''))),
  ].join('\n');
}

/** Two-column `label  value` lines, labels padded. */
export function pairs(entries: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** A kv value for humans: strings raw, everything else pretty JSON. */
export function humanValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** Relative time for an expiry: `in 9m 58s`, `never`. */
export function formatExpiry(at: Date | null, now = Date.now()): string {
  if (at === null) return 'never';
  return `${at.toISOString()} (in ${formatMs(Math.max(0, at.getTime() - now))})`;
}
