// The data model of seed 003 (the Kazari desktop app), with the seed's names, as zod schemas
// so every document is checked before it is stored and after it is read.
import { z } from 'zod';

// An instant as ISO 8601 with its time zone (Z or an offset). Stored normalised to UTC with
// milliseconds (`toISOString()`), so the period scans, which compare strings, order them
// right: '2024-03-01T01:00:00+02:00' is February 29th in UTC.
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export function isIsoInstant(value: unknown): boolean {
  const m = typeof value === 'string' ? ISO_INSTANT.exec(value) : null;
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const lastDay = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  const real = month >= 1 && month <= 12 && day >= 1 && day <= lastDay && hour <= 23 && minute <= 59 && second <= 59;
  return real && Number.isFinite(Date.parse(value as string));
}

/** An ISO instant as UTC `toISOString()`; anything else unchanged (the schema then refuses it). */
export function utcIso(value: unknown): unknown {
  return isIsoInstant(value) ? new Date(Date.parse(value as string)).toISOString() : value;
}

const instant = z.string().refine(isIsoInstant, { message: 'must be an ISO 8601 date-time with a time zone (Z or +hh:mm)' });

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
  createdAt: instant,
  completedAt: instant.optional(),
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
  startedAt: instant,
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
