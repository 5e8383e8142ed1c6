import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ROW_CRC_FN, storedRowCrc } from './sqlite-checksum.js';
import { PAGE_ROWS, pageCheckSql } from './sqlite-verify.js';

const require = createRequire(import.meta.url);

/**
 * The worker's program, evaluated as CommonJS: it needs nothing of Strata but the SQL and
 * the row CRC it is sent (`storedRowCrc` is self-contained, so its source runs here as is),
 * and better-sqlite3 (resolved by the caller, so the worker loads the same copy). That also
 * keeps it runnable from the TypeScript sources under test.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
const Database = require(workerData.sqlite);
const rowCrc = ${String(storedRowCrc)};
const stopped = workerData.stopped;
function range(db, pageRows, { table, pageSql, after, upTo }) {
  const page = db.prepare(pageSql).raw(true);
  let checked = 0;
  const pages = [];
  for (;;) {
    if (Atomics.load(stopped, 0) !== 0) throw new Error('the check was stopped');
    const [last, rows, sound] = upTo === null ? page.get(after) : page.get(after, upTo);
    checked += rows;
    if (sound !== rows) pages.push([after, last]);
    if (rows < pageRows) return { table, checked, pages };
    after = last;
  }
}
function records(db, job) {
  db.function(job.rowCrcName, { directOnly: true, deterministic: true }, (k, v, u, e) => rowCrc(crc32, k, v, u, e));
  return { ranges: db.transaction(() => job.ranges.map((r) => range(db, job.pageRows, r)))() };
}
try {
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('trusted_schema = OFF'); // a backup from elsewhere must not run functions from its schema
    const job = workerData.job;
    parentPort.postMessage(
      job.kind === 'integrity' ? { messages: db.prepare('PRAGMA integrity_check').pluck().all() } : records(db, job),
    );
  } finally {
    db.close();
  }
} catch (error) {
  parentPort.postMessage({ error: String(error && error.message), code: String(error && error.code) });
}
`;

/** A check running on a worker thread. */
export interface WorkerRun<T> {
  /** Its answer; rejects when the file cannot be read. */
  readonly answer: Promise<T>;
  /**
   * Asks the worker to end early (the caller failed and no longer wants the answer) and
   * resolves once it has: a record check stops at its next page, integrity_check runs to its end.
   */
  stop(): Promise<void>;
}

export interface IntegrityRun {
  /** SQLite's `integrity_check` messages (`['ok']` when sound); rejects when the file cannot be read. */
  readonly messages: Promise<string[]>;
  /** As WorkerRun.stop. */
  stop(): Promise<void>;
}

/** A key range of a table whose records a worker checks: after `after`, up to `upTo` (inclusive; null: to the end). */
export interface RecordRange {
  table: string;
  after: string;
  upTo: string | null;
}

/** What a worker found in one range: how many records, and the pages holding damage. */
export interface RangeAnswer {
  table: string;
  checked: number;
  /** `(after, last]` key ranges of pages with at least one unsound row, to read again row by row. */
  pages: Array<[after: unknown, last: unknown]>;
}

type Job =
  | { kind: 'integrity' }
  | {
      kind: 'records';
      rowCrcName: string;
      pageRows: number;
      ranges: Array<{ table: string; pageSql: string; after: string; upTo: string | null }>;
    };

/** A blob key comes back from the worker as a plain Uint8Array, which better-sqlite3 does not bind. */
const asBound = (key: unknown): unknown =>
  key instanceof Uint8Array && !Buffer.isBuffer(key) ? Buffer.from(key.buffer, key.byteOffset, key.byteLength) : key;

function run<T>(file: string, job: Job, answerOf: (message: Record<string, unknown>) => T): WorkerRun<T> {
  // Stopped by a flag the worker reads between pages, never by terminate(): a worker ended
  // while better-sqlite3 is inside a call that throws aborts the whole process (a V8 fatal
  // error, seen here on damaged files; better-sqlite3 issue 1507 is the same).
  const stopped = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(PROGRAM, {
    eval: true,
    workerData: { file, job, stopped, sqlite: require.resolve('better-sqlite3') },
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const answer = new Promise<T>((resolve, reject) => {
    // SQLite's errors are sent as text: an error thrown across threads loses its message.
    let message: Record<string, unknown> | undefined;
    worker.once('message', (value: Record<string, unknown>) => (message = value));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (message === undefined) reject(new Error(`the check of ${file} stopped (exit code ${code}) without an answer`));
      else if (typeof message.error === 'string') reject(Object.assign(new Error(message.error), { code: message.code }));
      else resolve(answerOf(message));
    });
  });
  answer.catch(() => {}); // awaited by the caller, or abandoned with stop()
  return {
    answer,
    stop: () => {
      Atomics.store(stopped, 0, 1);
      return exited;
    },
  };
}

/**
 * Runs `PRAGMA integrity_check` over `file` on a worker thread, so it overlaps the record
 * checks on the calling thread (on a million-record backup it is a fifth of the checking).
 * Only for a file nobody writes while it runs, such as a backup's scratch copy: the threads
 * read it through separate connections, which are separate snapshots.
 */
export function integrityCheckInWorker(file: string): IntegrityRun {
  const { answer, stop } = run(file, { kind: 'integrity' }, (message) => message.messages as string[]);
  return { messages: answer, stop };
}

/**
 * Checks the records of each range on a worker thread, page by page as `verifyTables` does,
 * with the same SQL and row CRC, in one read transaction. The same condition as
 * `integrityCheckInWorker`: only for a file nobody writes.
 */
export function recordsCheckInWorker(file: string, ranges: readonly RecordRange[]): WorkerRun<RangeAnswer[]> {
  const job: Job = {
    kind: 'records',
    rowCrcName: ROW_CRC_FN,
    pageRows: PAGE_ROWS,
    ranges: ranges.map((r) => ({ ...r, pageSql: pageCheckSql(r.table, r.upTo !== null) })),
  };
  return run(file, job, (message) =>
    (message.ranges as RangeAnswer[]).map((r) => ({
      ...r,
      pages: r.pages.map(([from, last]): [unknown, unknown] => [asBound(from), asBound(last)]),
    })),
  );
}
