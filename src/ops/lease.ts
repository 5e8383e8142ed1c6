import type { Driver, StoredRecord } from '../drivers/driver.js';
import { asRead } from '../drivers/record-stamp.js';
import { retryOnConflict } from '../context.js';
import { StrataError } from '../errors.js';
import { parseJson } from '../codec/json.js';

/**
 * Where a store keeps one record per scheduled job: the last slot handled, the leases of
 * runs in progress and the outcomes of the last runs. Not a `kv.` or `c.` space, so it never
 * appears in names() or in the space lists of stats().
 */
export const SCHEDULES_SPACE = 'meta.schedules';

/** What happened to one slot of a job. */
export interface ScheduleRun {
  /** The scheduled time of the slot (ISO), the same in every process. */
  slot: string;
  /**
   * `ok` / `error`: the function resolved / threw. `abandoned`: its runner's lease expired
   * before it recorded an outcome (the process died or stalled); the slot is not run again.
   * `skipped`: with `protect`, an earlier run was still in progress when the slot came.
   */
  outcome: 'ok' | 'error' | 'abandoned' | 'skipped';
  /** ISO times; `null` when the run never started (skipped) or never finished (abandoned). */
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  /** `error`: the message of what the function threw (cut to 500 characters); otherwise why. */
  error?: string;
  /** `host:pid` of the process that ran (or claimed) the slot. */
  process: string;
}

/** A run in progress: the runner holds the slot until `leaseUntil`, renewing it while it runs. */
export interface Lease {
  slot: number;
  owner: string;
  process: string;
  startedAt: number;
  leaseUntil: number;
}

export interface JobRecord {
  cron: string;
  timezone: string | null;
  /** When the job was first scheduled on this store (epoch ms): slots before it were never missed. */
  since: number;
  /** The latest slot claimed or skipped by any process (epoch ms), `null` before the first. */
  lastSlot: number | null;
  running: Lease[];
  /** Newest first. */
  runs: ScheduleRun[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A stored job record, or `null` when it is not one (damaged, or written by something else). */
export function parseJobRecord(text: string): JobRecord | null {
  let raw: unknown;
  try {
    raw = parseJson(text);
  } catch {
    return null;
  }
  if (!isObject(raw)) return null;
  const { cron, timezone, since, lastSlot, running, runs } = raw;
  const ok =
    typeof cron === 'string' &&
    (timezone === null || typeof timezone === 'string') &&
    isTime(since) &&
    (lastSlot === null || isTime(lastSlot)) &&
    Array.isArray(running) &&
    running.every((l) => isObject(l) && isTime(l.slot) && typeof l.owner === 'string' && isTime(l.leaseUntil)) &&
    Array.isArray(runs) &&
    runs.every((r) => isObject(r) && typeof r.slot === 'string' && typeof r.outcome === 'string');
  return ok ? (raw as unknown as JobRecord) : null;
}

/** The new record to write (and what to answer), or `{ result }` alone to write nothing. */
export type Change<R> = { next?: JobRecord; result: R };

/**
 * Reads the job record, lets `change` decide, and writes the new one only if nobody wrote the
 * record meanwhile (a conditional write on its version); on a conflict it reads and decides
 * again. This compare-and-swap is what makes a slot's claim exclusive across processes.
 * A damaged record reads as absent and is replaced; one the driver refuses as CORRUPT is
 * first deleted (what repairs a damaged record), and `onDamage` hears of it.
 */
export async function updateJob<R>(
  driver: Driver,
  name: string,
  now: () => number,
  change: (record: JobRecord | null) => Change<R>,
  onDamage: (error: StrataError) => void = () => {},
): Promise<R> {
  return retryOnConflict(async () => {
    let stored: StoredRecord | null;
    try {
      stored = await driver.get(SCHEDULES_SPACE, name, now());
    } catch (error) {
      if (!damagedJob(error)) throw error;
      onDamage(error);
      await driver.batch([{ type: 'delete', space: SCHEDULES_SPACE, key: name }], now(), { results: false });
      stored = null;
    }
    const { next, result } = change(stored === null ? null : parseJobRecord(stored.value));
    if (next === undefined) return result;
    await driver.batch(
      [
        {
          type: 'put',
          space: SCHEDULES_SPACE,
          key: name,
          value: JSON.stringify(next),
          expiresAt: null,
          ...asRead(stored),
        },
      ],
      now(),
      { results: false },
    );
    return result;
  });
}

/** A CORRUPT error about one record of the schedules space. */
function damagedJob(error: unknown): error is StrataError & { details: { key: string } } {
  return StrataError.is(error, 'CORRUPT') && error.details?.space === SCHEDULES_SPACE && typeof error.details.key === 'string';
}

/**
 * Every job record in the store, by name; a damaged one (not a job record, or refused by the
 * driver as CORRUPT) as `null`. Read one record at a time, so one damaged record hides no other.
 */
export async function readJobs(driver: Driver, now: number): Promise<Array<[string, JobRecord | null]>> {
  const out: Array<[string, JobRecord | null]> = [];
  for (let after: string | undefined; ;) {
    let page: StoredRecord[];
    try {
      page = await driver.scan(SCHEDULES_SPACE, after === undefined ? { limit: 1 } : { limit: 1, after: { key: after } }, now);
    } catch (error) {
      if (!damagedJob(error)) throw error;
      out.push([error.details.key, null]);
      after = error.details.key;
      continue;
    }
    const [record] = page;
    if (record === undefined) return out;
    out.push([record.key, parseJobRecord(record.value)]);
    after = record.key;
  }
}

/** Keeps the newest `keep` outcomes. */
export function withRun(runs: readonly ScheduleRun[], run: ScheduleRun, keep: number): ScheduleRun[] {
  return [run, ...runs].sort((a, b) => (a.slot < b.slot ? 1 : a.slot > b.slot ? -1 : 0)).slice(0, keep);
}

/** Leases whose holder stopped renewing them become `abandoned` outcomes. */
export function dropExpired(record: JobRecord, at: number, keep: number): JobRecord {
  const expired = record.running.filter((l) => l.leaseUntil <= at);
  if (expired.length === 0) return record;
  let runs = record.runs;
  for (const l of expired) {
    runs = withRun(
      runs,
      {
        slot: new Date(l.slot).toISOString(),
        outcome: 'abandoned',
        startedAt: new Date(l.startedAt).toISOString(),
        finishedAt: null,
        durationMs: null,
        error: 'the runner stopped renewing its lease before recording an outcome (it died or stalled)',
        process: l.process,
      },
      keep,
    );
  }
  return { ...record, running: record.running.filter((l) => l.leaseUntil > at), runs };
}
