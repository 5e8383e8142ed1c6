import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ScanPosition, StoredRecord, WriteOp } from './drivers/driver.js';
import { asRead } from './drivers/record-stamp.js';
import type { Filter, SortSpec } from './query/ast.js';
import type { CollectionVerifyReport } from './collection-types.js';
import type { HandleContext } from './context.js';
import { retryOnConflict } from './context.js';
import { sortValues } from './query/match.js';
import { storedProblems, type DocRules, type Prepared } from './collection-docs.js';
import { hideIssues } from './crypto/redact.js';
import { DedupeGroups, type DedupePlan } from './collection-dedupe.js';

/** Records per scan page and per delete batch of the bulk operations. */
export const PAGE = 500;

/** What the bulk operations need from their collection handle. */
export interface BulkHost {
  readonly ctx: HandleContext;
  readonly space: string;
  readonly rules: DocRules;
  /** The stored JSON of a record (CORRUPT naming the key when it does not parse). */
  parse(record: StoredRecord, op: string): unknown;
  /** A stored document with a patch merged in, validated, and its new stored text. */
  patched(record: StoredRecord, patch: Record<string, unknown>, now: number, op: string): Promise<Prepared & { text: string }>;
  putOp(key: string, text: string, now: number, read?: StoredRecord | null): WriteOp;
  /** Writes ops atomically, ignoring per-op results. */
  write(ops: readonly WriteOp[], now: number): Promise<void>;
}

/** The keyset position just after `record` in a scan sorted by `sort`. */
export function positionAfter(
  host: BulkHost,
  record: StoredRecord,
  sort: readonly SortSpec[],
  op: string,
): Required<ScanPosition> {
  return { key: record.key, values: sort.length === 0 ? [] : sortValues(host.parse(record, op), sort) };
}

/**
 * Raw pages of matching records in `sort` order (key order when empty), each read after
 * the last one's keyset position, so a concurrent write never makes a page repeat or skip
 * a document that stays put. `values`: only keys and values are needed (no versions).
 */
export async function* pages(
  host: BulkHost,
  filter: Filter,
  sort: readonly SortSpec[],
  size: number,
  values: boolean,
  op: string,
): AsyncGenerator<StoredRecord[]> {
  let after: ScanPosition | undefined;
  for (;;) {
    const records = await host.ctx.driver.scan(
      host.space,
      { filter, sort: sort.length === 0 ? undefined : [...sort], after, limit: size, valuesOnly: values },
      host.ctx.now(),
    );
    if (records.length > 0) yield records;
    if (records.length < size) return;
    await nextTurn(); // between pages: updateWhere and verify over a big collection are not one macrotask
    const last = records[records.length - 1]!;
    after = sort.length === 0 ? { key: last.key } : positionAfter(host, last, sort, op);
  }
}

/**
 * `updateWhere`: every changed match in ONE batch, each put guarded by the version read, so
 * all change or none; a CONFLICT (someone wrote a match meanwhile) reruns it on fresh data.
 */
export async function patchAll(host: BulkHost, filter: Filter, patch: Record<string, unknown>, op: string): Promise<number> {
  return retryOnConflict(async () => {
    const now = host.ctx.now();
    const ops: WriteOp[] = [];
    for await (const records of pages(host, filter, [], PAGE, false, op)) {
      for (const record of records) {
        const next = await host.patched(record, patch, now, op);
        if (next.text !== record.value) ops.push(host.putOp(record.key, next.text, now, record));
      }
    }
    if (ops.length > 0) await host.write(ops, now);
    return ops.length;
  });
}

/** Deletes every match in batches of PAGE (each atomic), giving the event loop back between them; returns how many. */
export async function deleteMatching(host: BulkHost, filter: Filter): Promise<number> {
  let removed = 0;
  // Each batch resumes after the last key deleted: a filter no index serves would
  // otherwise re-read every non-matching document once per batch.
  let after: string | undefined;
  for (;;) {
    const records = await retryOnConflict(async () => {
      const page = await host.ctx.driver.scan(
        host.space,
        { filter, after: after === undefined ? undefined : { key: after }, limit: PAGE, keysOnly: true },
        host.ctx.now(),
      );
      if (page.length > 0) {
        // Each only as it was matched: one a writer changed meanwhile (it may no longer
        // match) fails the batch, which deletes nothing, and the page is read again.
        const results = await host.ctx.driver.batch(
          page.map((r): WriteOp => ({ type: 'delete', space: host.space, key: r.key, ...asRead(r) })),
          host.ctx.now(),
        );
        removed += results.filter((r) => r !== null).length;
      }
      return page;
    });
    if (records.length < PAGE) return removed;
    after = records[records.length - 1]!.key;
    // As dedupe does (below): on SQLite and memory the whole call was one macrotask.
    await nextTurn();
  }
}

/**
 * `dedupe`: groups every document, then deletes the losers in batches, each only at the
 * version it was judged at; if one changed meanwhile, the groups are recomputed and the
 * rest runs again. Returns how many were deleted. The event loop is given back after every
 * page read and every batch (on SQLite and memory each driver call settles at once, so the
 * whole dedupe would otherwise be one macrotask); a write made meanwhile is caught by the
 * version each loser is deleted at, as a write from another process is.
 */
export async function dedupeAll(host: BulkHost, plan: DedupePlan, all: Filter, op: string): Promise<number> {
  let removed = 0;
  await retryOnConflict(async () => {
    const groups = new DedupeGroups(plan);
    for await (const records of pages(host, all, [], PAGE, false, op)) {
      for (const record of records) groups.add(record, host.parse(record, op));
      await nextTurn();
    }
    const losers = groups.losers;
    for (let i = 0; i < losers.length; i += PAGE) {
      const results = await host.ctx.driver.batch(
        losers.slice(i, i + PAGE).map((l): WriteOp => ({ type: 'delete', space: host.space, key: l.key, ...asRead(l) })),
        host.ctx.now(),
      );
      removed += results.filter((r) => r !== null).length;
      await nextTurn();
    }
  });
  return removed;
}

/** `verify`: every document a read would refuse, page by page; changes nothing. */
export async function verifyAll(host: BulkHost, all: Filter, op: string): Promise<CollectionVerifyReport> {
  const report: CollectionVerifyReport = { checked: 0, invalid: [] };
  for await (const records of pages(host, all, [], PAGE, true, op)) {
    for (const record of records) {
      report.checked++;
      const issues = await storedProblems(host.rules, record);
      // As in VALIDATION_FAILED: nothing named below an encrypted field.
      if (issues !== null)
        report.invalid.push({ key: record.key, issues: hideIssues(issues, host.ctx.encryptionOf?.(host.space)) });
    }
  }
  return report;
}
