// Seed 003 (desktop): "interface TaskRepository { update(id, updates): Promise<Task>;
// getHistory(dateRange): Promise<TaskHistoryEntry[]> }", TaskHistoryEntry.completedAt: when
// the task was completed. Unless an update gives completedAt, it follows the status: set when
// a task becomes done, kept while it stays done, removed when it leaves done.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openKazari, type DataPersistenceLayer } from './persistence.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
let dir: string;
let app: DataPersistenceLayer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kazari-completion-'));
  app = await openKazari({ keys: KEYS, dataDir: dir });
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const day = (iso: string) => ({ from: new Date(`${iso}T00:00:00Z`), to: new Date(`${iso}T23:59:59Z`) });

describe('desktop (seed 003): task completion times', () => {
  it('an update that repeats status "done" keeps the original completedAt, so the history does not move the task', async () => {
    const task = await app.taskHistory.create({
      title: 'ship it',
      status: 'done',
      createdAt: '2026-01-01T09:00:00Z',
      completedAt: '2026-01-02T17:00:00Z',
    });
    // e.g. the UI saves an edited title of a finished task with its status.
    const edited = await app.taskHistory.update(task.id, { title: 'ship it (v2)', status: 'done' });
    expect(edited.completedAt).toBe('2026-01-02T17:00:00.000Z');
    expect((await app.taskHistory.getHistory(day('2026-01-02'))).map((e) => e.id)).toContain(task.id);
  });

  it('a task reopened (status back to todo) is no longer reported as completed', async () => {
    const task = await app.taskHistory.create({ title: 'reopen me', status: 'done', createdAt: '2026-01-01T09:00:00Z' });
    const reopened = await app.taskHistory.update(task.id, { status: 'todo' });
    expect(reopened.completedAt).toBeUndefined();
    expect((await app.taskHistory.getById(task.id))?.completedAt).toBeUndefined();
    const [entry] = await app.taskHistory.getHistory(day('2026-01-01'));
    expect(entry).toMatchObject({ id: task.id, status: 'todo', completedAt: null });
  });

  it('a task that becomes done gets the time it did; an explicit completedAt wins', async () => {
    const task = await app.taskHistory.create({ title: 'do it', status: 'in-progress' });
    const before = Date.now();
    const done = await app.taskHistory.update(task.id, { status: 'done' });
    expect(Date.parse(done.completedAt!)).toBeGreaterThanOrEqual(before - 1);
    const reopened = await app.taskHistory.update(task.id, { status: 'in-progress' });
    expect(reopened.completedAt).toBeUndefined();
    const backdated = await app.taskHistory.update(task.id, { status: 'done', completedAt: '2026-03-01T12:00:00+02:00' });
    expect(backdated.completedAt).toBe('2026-03-01T10:00:00.000Z');
    // An edit that leaves the status alone leaves completedAt alone.
    expect((await app.taskHistory.update(task.id, { title: 'did it' })).completedAt).toBe('2026-03-01T10:00:00.000Z');
  });

  it('updating a task that does not exist is NOT_FOUND, with or without a status', async () => {
    await expect(app.taskHistory.update('nope', { status: 'done' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(app.taskHistory.update('nope', { title: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
