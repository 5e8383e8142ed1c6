import { availableParallelism } from 'node:os';
import type Database from 'better-sqlite3';
import type { VerifyReport } from './driver.js';
import {
  integrityCheckInWorker,
  recordsCheckInWorker,
  type RangeAnswer,
  type RecordRange,
  type WorkerRun,
} from './sqlite-integrity.js';
import { addChecked, checkTables, integrityIssues, recheckPages, reportOf } from './sqlite-verify.js';

/** A table with fewer rows is checked whole by the calling thread: splitting it costs more than it saves. */
const MIN_SPLIT_ROWS = 20_000;
/** Record-checking threads at most (the calling thread included). */
const MAX_PARTS = 4;

/**
 * Boundaries splitting each big table into `parts` key ranges of about equal row counts:
 * by table, the `parts - 1` keys that end the first ranges.
 */
function boundaries(db: Database.Database, parts: number, minRows: number): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const tables = db
    .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'strata_s_*'")
    .pluck()
    .all() as string[];
  for (const table of tables) {
    const rows = db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    if (rows < minRows) continue;
    // Text keys only: any text key is a boundary, and a damaged key of another type never becomes one.
    const at = db
      .prepare(`SELECT key FROM ${table} WHERE typeof(key) = 'text' AND key > '' ORDER BY key LIMIT 1 OFFSET ?`)
      .pluck();
    const keys: string[] = [];
    for (let i = 1; i < parts; i++) {
      const key = at.get(Math.floor((i * rows) / parts)) as string | undefined;
      if (key !== undefined && (keys.length === 0 || key > keys.at(-1)!)) keys.push(key);
    }
    if (keys.length > 0) out.set(table, keys);
  }
  return out;
}

/**
 * `verifyTables` of a file nobody writes (a backup's scratch copy), spread over threads:
 * SQLite's `integrity_check` on one worker, and the records of each big table split by key
 * into ranges, the first checked here and each other on a worker of its own. The report is
 * the one `verifyTables` gives: the same checks, merged in key order.
 */
export async function verifyFileInParallel(
  db: Database.Database,
  file: string,
  options: { parts?: number; minSplitRows?: number } = {},
): Promise<VerifyReport> {
  const parts = Math.max(1, options.parts ?? Math.min(MAX_PARTS, availableParallelism()));
  const runs: Array<WorkerRun<unknown>> = [];
  try {
    const integrity = integrityCheckInWorker(file);
    runs.push({ answer: integrity.messages, stop: integrity.stop });
    let report: VerifyReport | undefined;
    let failure: unknown;
    try {
      const split = boundaries(db, parts, options.minSplitRows ?? MIN_SPLIT_ROWS);
      // Worker i checks range i + 1 of every split table.
      const workers: Array<WorkerRun<RangeAnswer[]>> = [];
      for (let i = 0; i < parts - 1; i++) {
        const ranges: RecordRange[] = [];
        for (const [table, keys] of split) {
          if (i < keys.length) ranges.push({ table, after: keys[i]!, upTo: keys[i + 1] ?? null });
        }
        if (ranges.length === 0) break;
        const worker = recordsCheckInWorker(file, ranges);
        runs.push(worker);
        workers.push(worker);
      }
      const checks = checkTables(db, { integrity: false, upTo: new Map([...split].map(([table, keys]) => [table, keys[0]!])) });
      for (const worker of workers) {
        for (const range of await worker.answer)
          recheckPages(db, range.table, addChecked(checks, range.table, range.checked), range.pages);
      }
      report = reportOf(checks);
    } catch (error) {
      failure = error;
    }
    // As verifyTables: when SQLite finds the b-tree damaged, its verdict is the report, and
    // whatever the record checks found or failed on over that b-tree is not to be trusted.
    const issues = integrityIssues(await integrity.messages);
    if (issues.length > 0) return { ok: false, checked: 0, issues };
    if (report === undefined) throw failure;
    return report;
  } finally {
    await Promise.all(runs.map((run) => run.stop()));
  }
}
