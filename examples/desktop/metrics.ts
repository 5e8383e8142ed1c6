// The seed's MetricsRepository: one document per focus session; daily, weekly and monthly
// totals and trends are computed from the sessions of the period (an index on startedAt keeps
// each a range scan). `cleanup` removes sessions past the retention; the collection has a
// record quota, so a runaway recorder fails loudly instead of filling the disk.
import { StrataError, type Store } from '../../src/index.js';
import {
  checkDate,
  checkPeriod,
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
    await this.#sessions.insert({ ...session, startedAt: utcIso(session.startedAt) as string });
  }

  async #between(period: TimePeriod, from: Date, to: Date): Promise<ProductivityMetrics> {
    const totals = { sessions: 0, focusMs: 0, totalMs: 0, tasksCompleted: 0, interruptions: 0 };
    const range = { startedAt: { $gte: from.toISOString(), $lt: to.toISOString() } };
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
    const from = startOf('day', checkDate(date, 'the date', 'metrics.getDailyMetrics'));
    return (await this.#between('day', from, next('day', from))) as DailyMetrics;
  }

  async getWeeklyMetrics(weekStart: Date): Promise<WeeklyMetrics> {
    const from = startOf('day', checkDate(weekStart, 'weekStart', 'metrics.getWeeklyMetrics'));
    const days: DailyMetrics[] = [];
    for (let d = 0; d < 7; d++)
      days.push(await this.getDailyMetrics(new Date(from.getFullYear(), from.getMonth(), from.getDate() + d)));
    return { ...(await this.#between('week', from, next('week', from))), period: 'week', days };
  }

  async getMonthlyMetrics(month: Date): Promise<MonthlyMetrics> {
    const from = startOf('month', checkDate(month, 'the month', 'metrics.getMonthlyMetrics'));
    return (await this.#between('month', from, next('month', from))) as MonthlyMetrics;
  }

  /** The period (day, week from Monday, month) that holds now. */
  async getMetrics(period: TimePeriod): Promise<ProductivityMetrics> {
    checkPeriod(period, 'metrics.getMetrics');
    const from = startOf(period, this.#now());
    return this.#between(period, from, next(period, from));
  }

  async calculateTrends(period: TimePeriod): Promise<ProductivityTrends> {
    checkPeriod(period, 'metrics.calculateTrends');
    const from = startOf(period, this.#now());
    const previousFrom = previous(period, from);
    const current = await this.#between(period, from, next(period, from));
    const before = await this.#between(period, previousFrom, from);
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
    if (typeof retentionPeriod !== 'number' || !Number.isFinite(retentionPeriod) || retentionPeriod < 0)
      throw new StrataError('BAD_INPUT', `${op}: the retention period must be a number of milliseconds >= 0`, {
        op,
        hint: 'pass e.g. 90 * 86_400_000 to keep 90 days',
      });
    const cutoff = new Date(this.#now().getTime() - retentionPeriod).toISOString();
    await this.#sessions.deleteWhere({ startedAt: { $lt: cutoff } });
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
