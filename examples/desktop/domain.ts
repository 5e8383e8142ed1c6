// The data model of seed 003 (the Kazari desktop app), with the seed's names, as zod schemas
// so every document is checked before it is stored and after it is read.
import { z } from 'zod';

export const Theme = z.enum(['light', 'dark', 'system']);

/** Settings: one key per setting. `apiKeys`, `tokens` and `credentials` are sensitive (encrypted). */
export const UserSettingsSchema = z.object({
  theme: Theme,
  language: z.string(),
  notifications: z.boolean(),
  focusMinutes: z.number().int().positive(),
  apiKeys: z.record(z.string(), z.string()),
  tokens: z.record(z.string(), z.string()),
  credentials: z.record(z.string(), z.string()),
});
export type UserSettings = z.infer<typeof UserSettingsSchema>;

export const DEFAULT_SETTINGS: UserSettings = {
  theme: 'system',
  language: 'en',
  notifications: true,
  focusMinutes: 25,
  apiKeys: {},
  tokens: {},
  credentials: {},
};

export const TaskStatus = z.enum(['todo', 'in-progress', 'done']);
export const Priority = z.enum(['low', 'medium', 'high']);

export const TaskSchema = z.object({
  id: z.string(),
  title: z.string().min(1).max(500),
  status: TaskStatus,
  /** Added by the migration "002-add-task-priority" (the seed's "Add task priority field"). */
  priority: Priority.optional(),
  tags: z.array(z.string()).default([]),
  /** Personal notes: encrypted at rest. */
  notes: z.string().optional(),
  createdAt: z.string(),
  completedAt: z.string().optional(),
});
export type Task = z.infer<typeof TaskSchema>;
export type NewTask = Omit<Task, 'id' | 'createdAt' | 'tags'> & { id?: string; createdAt?: string; tags?: string[] };

export interface TaskFilters {
  status?: Task['status'];
  priority?: NonNullable<Task['priority']>;
  tag?: string;
  limit?: number;
}

export interface DateRange {
  from: Date;
  to: Date;
}

export interface TaskHistoryEntry {
  id: string;
  title: string;
  status: Task['status'];
  createdAt: string;
  completedAt: string | null;
}

export const SessionRecordSchema = z.object({
  id: z.string(),
  startedAt: z.string(),
  durationMs: z.number().int().nonnegative(),
  focusMs: z.number().int().nonnegative(),
  tasksCompleted: z.number().int().nonnegative(),
  interruptions: z.number().int().nonnegative(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

export type TimePeriod = 'day' | 'week' | 'month';

export interface ProductivityMetrics {
  period: TimePeriod;
  from: string;
  to: string;
  sessions: number;
  focusMs: number;
  totalMs: number;
  tasksCompleted: number;
  interruptions: number;
  /** focusMs / totalMs, 0 when there was no session. */
  focusRatio: number;
}
export type DailyMetrics = ProductivityMetrics & { period: 'day' };
export type WeeklyMetrics = ProductivityMetrics & { period: 'week'; days: DailyMetrics[] };
export type MonthlyMetrics = ProductivityMetrics & { period: 'month' };

export interface ProductivityTrends {
  period: TimePeriod;
  current: ProductivityMetrics;
  previous: ProductivityMetrics;
  /** Relative change from the previous period (0.25 = +25%); null when the previous one was 0. */
  focusChange: number | null;
  tasksChange: number | null;
}

export const ApplicationStateSchema = z.object({
  openWindows: z.array(z.object({ id: z.string(), route: z.string(), bounds: z.array(z.number()).length(4) })),
  activeTaskId: z.string().nullable(),
  sidebarCollapsed: z.boolean(),
});
export type ApplicationState = z.infer<typeof ApplicationStateSchema>;

export interface StateSnapshot {
  state: ApplicationState | null;
  /** The stored version the snapshot was taken at (0: no state). */
  version: number;
  takenAt: string;
  /** SecurityManager.generateChecksum(state): a snapshot altered since is refused. */
  checksum: string;
}
