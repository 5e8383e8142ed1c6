// The seed's MetricsRepository: one document per focus session; daily, weekly and monthly
// totals and trends are computed from the sessions of the period (an index on startedAt keeps
// each a range scan). `cleanup` removes sessions past the retention; the collection has a
// record quota, so a runaway recorder fails loudly instead of filling the disk.
import type { Store } from '../../src/index.js';
import { bad, checkDate, checkObject, checkPeriod, checkRetention, MAX_DATE_MS, periodBound } from './checks.js';
import {
  SessionRecordSchema,
  utcIso,
  type DailyMetrics,
  type MonthlyMetrics,
  type ProductivityMetrics,
  type ProductivityTrends,
  type SessionRecord,
  type TimePeriod,
  type WeeklyMetrics,
} from './domain.js';

export const SESSIONS = 'sessions';
export const SESSION_QUOTA = { records: 200_000 };

export class MetricsRepository {
  readonly #sessions;
  readonly #now: () => Date;

  constructor(store: Store, now: () => Date = () => new Date(), maxSessions: number = SESSION_QUOTA.records) {
    this.#sessions = store.collection(SESSIONS, {
      schema: SessionRecordSchema,
      key: 'id',
      indexes: ['startedAt'],
      quota: { records: maxSessions },
    });
    this.#now = now;
  }

  async recordSession(session: Omit<SessionRecord, 'id'> & { id?: string }): Promise<void> {
    checkObject(
      session,
      'the session',
      'metrics.recordSession',
      '{ startedAt, durationMs, focusMs, tasksCompleted, interruptions }',
    );
    await this.#sessions.insert({ ...session, startedAt: utcIso(session.startedAt) as string });
  }

  async #between(period: TimePeriod, from: Date, to: Date, op: string): Promise<ProductivityMetrics> {
    const totals = { sessions: 0, focusMs: 0, totalMs: 0, tasksCompleted: 0, interruptions: 0 };
    const range = { startedAt: { $gte: periodBound(from, op), $lt: periodBound(to, op) } };
    for await (const s of this.#sessions.iterate(range)) {
      totals.sessions++;
      totals.focusMs += s.focusMs;
      totals.totalMs += s.durationMs;
      totals.tasksCompleted += s.tasksCompleted;
      totals.interruptions += s.interruptions;
    }
    return {
      period,
      from: from.toISOString(),
      to: to.toISOString(),
      ...totals,
      focusRatio: totals.totalMs === 0 ? 0 : totals.focusMs / totals.totalMs,
    };
  }

  async getDailyMetrics(date: Date): Promise<DailyMetrics> {
    const op = 'metrics.getDailyMetrics';
    const from = startOf('day', checkDate(date, 'the date', op));
    return (await this.#between('day', from, next('day', from), op)) as DailyMetrics;
  }

  async getWeeklyMetrics(weekStart: Date): Promise<WeeklyMetrics> {
    const op = 'metrics.getWeeklyMetrics';
    const from = startOf('day', checkDate(weekStart, 'weekStart', op));
    const week = await this.#between('week', from, next('week', from), op);
    const days: DailyMetrics[] = [];
    for (let d = 0; d < 7; d++)
      days.push(await this.getDailyMetrics(new Date(from.getFullYear(), from.getMonth(), from.getDate() + d)));
    return { ...week, period: 'week', days };
  }

  async getMonthlyMetrics(month: Date): Promise<MonthlyMetrics> {
    const op = 'metrics.getMonthlyMetrics';
    const from = startOf('month', checkDate(month, 'the month', op));
    return (await this.#between('month', from, next('month', from), op)) as MonthlyMetrics;
  }

  /** The period (day, week from Monday, month) that holds now. */
  async getMetrics(period: TimePeriod): Promise<ProductivityMetrics> {
    const op = 'metrics.getMetrics';
    const from = startOf(checkPeriod(period, op), this.#clock(op));
    return this.#between(period, from, next(period, from), op);
  }

  async calculateTrends(period: TimePeriod): Promise<ProductivityTrends> {
    const op = 'metrics.calculateTrends';
    const from = startOf(checkPeriod(period, op), this.#clock(op));
    const previousFrom = previous(period, from);
    const current = await this.#between(period, from, next(period, from), op);
    const before = await this.#between(period, previousFrom, from, op);
    return {
      period,
      current,
      previous: before,
      focusChange: change(current.focusMs, before.focusMs),
      tasksChange: change(current.tasksCompleted, before.tasksCompleted),
    };
  }

  /** Removes sessions that started more than `retentionPeriod` ms ago. */
  async cleanup(retentionPeriod: number): Promise<void> {
    const op = 'metrics.cleanup';
    const retention = checkRetention(retentionPeriod, op);
    // Clamped: with a clock before 1970, a long retention reaches past the earliest Date, before every session.
    const cutoff = new Date(Math.max(this.#clock(op).getTime() - retention, -MAX_DATE_MS)).toISOString();
    await this.#sessions.deleteWhere({ startedAt: { $lt: cutoff } });
  }

  #clock(op: string): Date {
    const now = this.#now();
    if (now instanceof Date && Number.isFinite(now.getTime())) return now;
    throw bad(
      op,
      'the now option returned something other than a valid Date',
      'open with now: () => new Date(), or leave it out',
    );
  }
}

function startOf(period: TimePeriod, at: Date): Date {
  if (period === 'month') return new Date(at.getFullYear(), at.getMonth(), 1);
  const day = new Date(at.getFullYear(), at.getMonth(), at.getDate());
  if (period === 'day') return day;
  const sinceMonday = (day.getDay() + 6) % 7;
  return new Date(day.getFullYear(), day.getMonth(), day.getDate() - sinceMonday);
}

function next(period: TimePeriod, from: Date): Date {
  if (period === 'month') return new Date(from.getFullYear(), from.getMonth() + 1, 1);
  return new Date(from.getFullYear(), from.getMonth(), from.getDate() + (period === 'week' ? 7 : 1));
}

function previous(period: TimePeriod, from: Date): Date {
  if (period === 'month') return new Date(from.getFullYear(), from.getMonth() - 1, 1);
  return new Date(from.getFullYear(), from.getMonth(), from.getDate() - (period === 'week' ? 7 : 1));
}

const change = (now: number, before: number): number | null => (before === 0 ? null : (now - before) / before);
