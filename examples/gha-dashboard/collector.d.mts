// Types of collector.mjs (plain JavaScript, so main.mjs and child processes run it as is).
import type { KvNamespace, Collection, Store } from '../../src/index.js';
import type { ItemDetails, SyncStream } from '../../src/kits/sync/index.js';

export declare const MAX_PER_PAGE: 100;
export declare const BATCH: 50;

/** A workflow run as seed 001 stored it (dates ISO 8601 with milliseconds). */
export interface Run {
  id: string;
  workflow_id: string;
  workflow_name: string | null;
  branch: string | null;
  actor: string | null;
  status: string | null;
  conclusion: string | null;
  created_at: string;
  updated_at: string;
  /** Seconds from run_started_at to updated_at. */
  duration: number | null;
}

export interface Job {
  id: string | null;
  name: string | null;
  status: string | null;
  conclusion: string | null;
  duration: number | null;
  started_at: string | null;
  completed_at: string | null;
}

/**
 * Where a workflow's walk got to (the next page, counted in pages of `perPage` runs: a resumed
 * walk goes on in that page size), or the collection it finished in.
 */
export type Checkpoint = { page: number; edge: number | null; until: number | null; perPage: number } | { finishedIn: string };

export interface CollectOptions {
  /** Directory of the per-repository stores. */
  dir: string;
  owner: string;
  repo: string;
  /** @default 'https://api.github.com' */
  apiUrl?: string;
  token?: string;
  /** @default globalThis.fetch */
  fetch?: (url: string, init: { headers: Record<string, string> }) => Promise<Response>;
  /** Runs per page, 1 to 100. An interrupted walk resumes in the page size it began with. @default 100 */
  perPage?: number;
  /** Only the newest `maxPages` pages of each workflow. @default Infinity */
  maxPages?: number;
  /** @default Date.now */
  clock?: () => number;
  onProgress?: (line: string) => void;
}

export interface CollectReport {
  calls: number;
  workflows: number;
  /** Whether it finished a collection that had been interrupted. */
  resumed: boolean;
  pagesFetched: number;
  /** Fetched pages whose runs were all held already (not saved). */
  pagesCovered: number;
  /** Pages not fetched at all: the store proved it held them. */
  pagesJumped: number;
  runsSaved: number;
  jobsFetched: number;
  jobsSkipped: number;
}

export interface WorkflowDateRange {
  workflow_name: string | null;
  earliest: string;
  latest: string;
  runs: number;
  /** Covered created_at ranges; 'beginning' = from the workflow's first run. */
  covered: Array<[string, string]>;
  complete: boolean;
}

export interface Dashboard {
  runs: Record<string, Run>;
  jobs_by_run: Record<string, Job[]>;
  workflow_date_ranges: Record<string, WorkflowDateRange>;
  last_updated: string | null;
}

export declare function storeFileName(owner: string, repo: string): string;
export declare function openRepositoryStore(
  dir: string,
  owner: string,
  repo: string,
): Promise<{
  store: Store;
  runs: Collection<Run & Record<string, unknown>>;
  jobs: ItemDetails<Job[]>;
  meta: KvNamespace<unknown>;
  stream: (workflowId: string) => SyncStream<Run, Checkpoint>;
}>;
export declare function collectRepository(options: CollectOptions): Promise<CollectReport>;
export declare function readDashboard(options: { dir: string; owner: string; repo: string }): Promise<Dashboard>;
