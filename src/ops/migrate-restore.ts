import type { MigrationHost } from './migrate-unit.js';

/**
 * How a run is undone as a whole: a restore point taken before its first step, and a
 * rollback to it. Backed by the store's verified backup and restore. Without them (no
 * backup API in this stack) there is no point: each step is still atomic on its own, but a
 * run that fails at step 3 keeps steps 1 and 2.
 */
export interface RestorePoints {
  take(): Promise<string | null>;
  rollbackTo(point: string): Promise<void>;
}

export function restorePoints(host: MigrationHost): RestorePoints {
  return {
    async take() {
      if (host.backup === undefined) return null;
      return (await host.backup()).id;
    },
    async rollbackTo(point) {
      if (host.restore === undefined) return;
      await host.restore(point);
    },
  };
}
