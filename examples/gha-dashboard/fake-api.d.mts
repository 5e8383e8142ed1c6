// Types of fake-api.mjs.
export interface FakeApi {
  url: string;
  /** Paths (with query) of the answered requests, in order. */
  calls: string[];
  /** Leave the request that would be answered `holdAt`-th (1-based) unanswered. */
  holdAt: number | undefined;
  /** Resolves with the path of the next held request. */
  held(): Promise<string>;
  addRuns(repo: string, workflowId: number, count: number): void;
  runCount(repo: string): number;
  close(): Promise<void>;
}

export declare function startFakeApi(options: {
  repos: Record<string, Array<{ id: number; name: string; runs: number }>>;
  seed?: number;
  start?: number;
  clock?: () => number;
}): Promise<FakeApi>;
