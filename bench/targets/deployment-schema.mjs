// The zod schema of the benchmark's deployment documents, for the "with a schema" variants:
// Strata validates with it on every write and read, and so does the raw comparator, so both
// sides do the same work.
import { z } from 'zod';

export const Deployment = z.object({
  id: z.string(),
  repoName: z.string(),
  branch: z.string(),
  status: z.enum(['pending', 'success', 'failed']),
  commit: z.string(),
  createdAt: z.string(),
  durationMs: z.number(),
  triggeredBy: z.string(),
});
