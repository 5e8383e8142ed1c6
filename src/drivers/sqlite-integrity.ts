import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

/**
 * The worker's program, evaluated as CommonJS: it needs nothing of Strata, only better-sqlite3
 * (resolved by the caller, so the worker loads the same copy), which also keeps it runnable
 * from the TypeScript sources under test.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
try {
  const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
  try {
    parentPort.postMessage({ messages: db.prepare('PRAGMA integrity_check').pluck().all() });
  } finally {
    db.close();
  }
} catch (error) {
  parentPort.postMessage({ error: String(error && error.message), code: String(error && error.code) });
}
`;

export interface IntegrityRun {
  /** SQLite's `integrity_check` messages (`['ok']` when sound); rejects when the file cannot be read. */
  readonly messages: Promise<string[]>;
  /** Ends the worker early (the caller failed and no longer wants the answer). */
  stop(): void;
}

/**
 * Runs `PRAGMA integrity_check` over `file` on a worker thread, so it overlaps the record
 * checks on the calling thread (on a million-record backup it is a fifth of the checking).
 * Only for a file nobody writes while it runs, such as a backup's scratch copy: the two
 * threads read it through separate connections, which are separate snapshots.
 */
export function integrityCheckInWorker(file: string): IntegrityRun {
  const worker = new Worker(PROGRAM, { eval: true, workerData: { file, sqlite: require.resolve('better-sqlite3') } });
  const messages = new Promise<string[]>((resolve, reject) => {
    // SQLite's errors are sent as text: an error thrown across threads loses its message.
    let answer: { messages: string[] } | { error: string; code: string } | undefined;
    worker.once('message', (value: typeof answer) => (answer = value));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (answer === undefined) reject(new Error(`the integrity check of ${file} stopped (exit code ${code}) without an answer`));
      else if ('messages' in answer) resolve(answer.messages);
      else reject(Object.assign(new Error(answer.error), { code: answer.code }));
    });
  });
  messages.catch(() => {}); // awaited by the caller, or abandoned with stop()
  return { messages, stop: () => void worker.terminate() };
}
