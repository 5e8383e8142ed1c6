// The seed's TaskRepository: a schema-checked collection (notes encrypted at rest), indexed by
// status, priority and creation time; `archive` moves old finished tasks to their own
// collection in atomic batches, so a crash mid-archive never loses or doubles a task.
import { StrataError, type Store } from '../../src/index.js';
import { checkDate, checkKnown, checkObject, checkText } from './checks.js';
import {
  TaskSchema,
  utcIso,
  type DateRange,
  type NewTask,
  type Task,
  type TaskFilters,
  type TaskHistoryEntry,
} from './domain.js';

export const TASKS = 'tasks';
export const ARCHIVED_TASKS = 'tasks-archive';
const ARCHIVE_BATCH = 500;
const FILTERS = ['status', 'priority', 'tag', 'limit'];
const checkId = (id: unknown, op: string): string => checkText(id, 'the task id', op, 'the id of a task, e.g. task.id');

const taskOptions = { schema: TaskSchema, key: 'id', indexes: ['status', 'priority', 'createdAt'], encrypt: ['notes'] } as const;

export function taskCollection(store: Store, name: string = TASKS) {
  return store.collection(name, taskOptions);
}

export class TaskRepository {
  readonly #store: Store;
  readonly #tasks;

  constructor(store: Store) {
    this.#store = store;
    this.#tasks = taskCollection(store);
    taskCollection(store, ARCHIVED_TASKS);
  }

  async create(task: NewTask): Promise<Task> {
    checkObject(task, 'the task', 'task.create', "{ title: 'Write the report', status: 'todo' }");
    const createdAt = utcIso(task.createdAt ?? new Date().toISOString()) as string;
    return this.#tasks.insert({
      tags: [],
      ...task,
      ...(task.completedAt === undefined ? {} : { completedAt: utcIso(task.completedAt) as string }),
      createdAt,
      ...(task.status === 'done' && !task.completedAt ? { completedAt: createdAt } : {}),
    });
  }

  /**
   * Unless the update gives `completedAt`, it follows the status: set when the task becomes
   * done, kept while it stays done (an edit does not move it in the history), removed when it
   * leaves done.
   */
  async update(id: string, updates: Partial<Task>): Promise<Task> {
    const op = 'task.update';
    checkId(id, op);
    checkObject(updates, 'updates', op, "the fields to change, e.g. { status: 'done' }");
    if ('id' in updates && updates.id !== id)
      throw new StrataError('BAD_INPUT', `${op} cannot change a task id`, { op, hint: 'leave id out of the updates' });
    const patch: Partial<Task> = { ...updates };
    for (const field of ['createdAt', 'completedAt'] as const)
      if (typeof patch[field] === 'string') patch[field] = utcIso(patch[field]) as string;
    if (updates.status === undefined || 'completedAt' in updates) return this.#tasks.update(id, patch);
    // The stored status decides, so it is read in the write's transaction: a change another
    // window makes in between reruns this, never gets overwritten.
    return this.#store.transaction(async (tx) => {
      const tasks = tx.collection<Task>(TASKS);
      const wasDone = (await tasks.get(id))?.status === 'done';
      const isDone = updates.status === 'done';
      if (wasDone === isDone) return tasks.update(id, patch);
      return tasks.update(id, { ...patch, completedAt: isDone ? new Date().toISOString() : undefined });
    });
  }

  async delete(id: string): Promise<void> {
    await this.#tasks.delete(checkId(id, 'task.delete'));
  }

  async getById(id: string): Promise<Task | null> {
    return this.#tasks.get(checkId(id, 'task.getById'));
  }

  async getAll(filters: TaskFilters = {}): Promise<Task[]> {
    checkObject(filters, 'filters', 'task.getAll', "e.g. { status: 'done', limit: 20 }, or nothing");
    checkKnown(filters, FILTERS, 'task.getAll', 'filter');
    const filter: Record<string, unknown> = {};
    if (filters.status !== undefined) filter.status = filters.status;
    if (filters.priority !== undefined) filter.priority = filters.priority;
    if (filters.tag !== undefined) filter.tags = filters.tag;
    return this.#tasks.query(filter, {
      sort: { createdAt: -1 },
      ...(filters.limit === undefined ? {} : { limit: filters.limit }),
    });
  }

  /** Tasks created or completed in the range, oldest first. */
  async getHistory(dateRange: DateRange): Promise<TaskHistoryEntry[]> {
    const op = 'task.getHistory';
    if (dateRange === null || typeof dateRange !== 'object')
      throw new StrataError('BAD_INPUT', `${op}: pass a range { from: Date, to: Date }`, { op });
    const from = checkDate(dateRange.from, 'from', op).toISOString();
    const to = checkDate(dateRange.to, 'to', op).toISOString();
    if (from > to)
      throw new StrataError('BAD_INPUT', `${op}: from (${from}) is after to (${to})`, {
        op,
        hint: 'pass the earlier date as from',
      });
    const tasks = await this.#tasks.query(
      { $or: [{ createdAt: { $gte: from, $lte: to } }, { completedAt: { $gte: from, $lte: to } }] },
      { sort: { createdAt: 1 } },
    );
    return tasks.map((t) => ({
      id: t.id,
      title: t.title,
      status: t.status,
      createdAt: t.createdAt,
      completedAt: t.completedAt ?? null,
    }));
  }

  /** Moves finished tasks created before `olderThan` to the archive; -> how many moved. */
  async archive(olderThan: Date): Promise<number> {
    const before = checkDate(olderThan, 'olderThan', 'task.archive').toISOString();
    let moved = 0;
    for (;;) {
      const batch = await this.#store.transaction(async (tx) => {
        const tasks = tx.collection<Task>(TASKS);
        const old = await tasks.query({ status: 'done', createdAt: { $lt: before } }, { limit: ARCHIVE_BATCH });
        for (const task of old) {
          await tx.collection<Task>(ARCHIVED_TASKS).set(task.id, task);
          await tasks.delete(task.id);
        }
        return old.length;
      });
      moved += batch;
      if (batch < ARCHIVE_BATCH) return moved;
    }
  }

  archived(): Promise<Task[]> {
    return taskCollection(this.#store, ARCHIVED_TASKS).query({}, { sort: { createdAt: 1 } });
  }
}
