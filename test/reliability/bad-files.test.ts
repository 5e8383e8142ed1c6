// Damaged files: Strata refuses them with CORRUPT and a way out, and never "repairs" them by
// overwriting the evidence. A torn journal tail (a crash mid-append) is the one damage that
// is recovered silently. Store files are private to the user (0600) under umask 022.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Store, StrataError } from '../../src/index.js';
import { fileDrivers, fixture, runChild, strata, tempDir } from './helpers.js';

const { openStore } = strata;
const { fileDriver } = fileDrivers;

let previousUmask: number;
beforeAll(() => {
  previousUmask = process.umask(0o022);
});
afterAll(() => {
  process.umask(previousUmask);
});

/** Every regular file under `dir`, relative path -> sha256 of its bytes. */
async function fingerprint(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out.set(
      relative(dir, path),
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
  }
  return out;
}

/** Files present before whose bytes changed or which disappeared. */
function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([path, hash]) => after.get(path) !== hash).map(([path]) => path);
}

/**
 * Opens `url` and touches `probe` (the first operations a program would run); expects a
 * CORRUPT StrataError from one of them that tells the user how to recover.
 */
async function expectCorrupt(url: string, probe: (store: Store) => Promise<unknown>): Promise<StrataError> {
  let store: Store | undefined;
  let failure: unknown;
  try {
    store = await openStore({ url, sweepInterval: false });
    await probe(store);
  } catch (error) {
    failure = error;
  } finally {
    await store?.close();
  }
  expect(failure, 'opening a damaged store must fail').toBeInstanceOf(strata.StrataError);
  const error = failure as StrataError;
  expect(error.code, error.message).toBe('CORRUPT');
  expect(error.hint, 'a CORRUPT error carries a hint').toBeTruthy();
  // The message names a way out: restore from a backup, or inspect with `strata verify`.
  expect(error.message).toMatch(/backup|restore|verify/i);
  // Where a store object can still be had (a driver that opens lazily), verify() reports the
  // damage instead of throwing, so `strata verify` can list it.
  const again = await openStore({ url, sweepInterval: false }).catch(() => undefined);
  if (again) {
    try {
      const report = await again.verify();
      expect(report.ok, 'verify() of a damaged store').toBe(false);
      expect(report.issues.length).toBeGreaterThan(0);
      expect(report.issues.every((issue) => issue.code === 'CORRUPT' || issue.code === 'INTEGRITY')).toBe(true);
    } finally {
      await again.close();
    }
  }
  return error;
}

async function probeAll(store: Store): Promise<void> {
  await store.kv('app').get('k1');
  await store.collection('docs').get('d1');
  await store.kv('app').list();
}

/** A store with some records in kv 'app' and collection 'docs', closed. */
async function fill(url: string, n: number): Promise<void> {
  const store = await openStore({ url, sweepInterval: false });
  try {
    for (let i = 0; i < n; i++) await store.kv('app').set(`k${i}`, { i, text: `value ${i} `.repeat(5) });
    await store.collection('docs').insertMany(Array.from({ length: n }, (_, i) => ({ id: `d${i}`, i })));
  } finally {
    await store.close();
  }
}

describe('sqlite: damaged database files', () => {
  it('a file of random bytes: CORRUPT with a recovery hint, file untouched', async () => {
    const dir = await tempDir('bad-sqlite-garbled');
    try {
      const path = join(dir.path, 'garbled.db');
      await writeFile(path, randomBytes(64 * 1024));
      const before = await fingerprint(dir.path);
      await expectCorrupt(`sqlite:${path}`, probeAll);
      expect(changedFiles(before, await fingerprint(dir.path))).toEqual([]);
    } finally {
      await dir.dispose();
    }
  });

  it('the first half of a real database: CORRUPT, file untouched', async () => {
    const dir = await tempDir('bad-sqlite-truncated');
    try {
      const full = join(dir.path, 'full.db');
      await fill(`sqlite:${full}`, 1500);
      const bytes = await readFile(full);
      expect(bytes.length).toBeGreaterThan(64 * 1024);
      const half = join(dir.path, 'half.db');
      await writeFile(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const before = await fingerprint(dir.path);
      await expectCorrupt(`sqlite:${half}`, probeAll);
      expect(changedFiles(before, await fingerprint(dir.path))).toEqual([]);
    } finally {
      await dir.dispose();
    }
  });

  it('the database file and its WAL are 0600 under umask 022', async () => {
    const dir = await tempDir('mode-sqlite');
    try {
      const path = join(dir.path, 'sub', 'modes.db');
      const store = await openStore({ url: `sqlite:${path}`, sweepInterval: false });
      try {
        await store.kv('app').set('k', 'v');
        for (const file of [path, `${path}-wal`, `${path}-shm`]) {
          const info = await stat(file).catch(() => null);
          if (info) expect((info.mode & 0o777).toString(8), file).toBe('600');
        }
      } finally {
        await store.close();
      }
      expect(((await stat(path)).mode & 0o777).toString(8)).toBe('600');
    } finally {
      await dir.dispose();
    }
  });
});

describe('file: damaged snapshots and journals', () => {
  const JOURNAL = 'journal.log';

  /** The journal's lines (each ends with \n), the header first. */
  async function journalLines(dir: string): Promise<Buffer[]> {
    const buf = await readFile(join(dir, JOURNAL));
    const lines: Buffer[] = [];
    for (let pos = 0; pos < buf.length;) {
      const nl = buf.indexOf(0x0a, pos);
      const end = nl < 0 ? buf.length : nl + 1;
      lines.push(buf.subarray(pos, end));
      pos = end;
    }
    return lines;
  }

  it('a garbled snapshot JSON: CORRUPT with a recovery hint, files untouched', async () => {
    const dir = await tempDir('bad-file-snapshot');
    try {
      const storeDir = join(dir.path, 'store');
      // A small compaction threshold, so the records end up in snapshot files.
      const store = await openStore({ driver: fileDriver({ dir: storeDir, compactBytes: 4096 }), sweepInterval: false });
      for (let i = 0; i < 200; i++) await store.kv('app').set(`k${i}`, { i, text: `value ${i} `.repeat(5) });
      await store.collection('docs').insertMany(Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, i })));
      await store.close();
      const snapshots = (await readdir(storeDir)).filter((f) => f.endsWith('.json'));
      const appSnapshot = snapshots.find((f) => f.startsWith('kv.app'));
      expect(appSnapshot, `a snapshot of kv "app" among ${snapshots.join(', ')}`).toBeDefined();
      const path = join(storeDir, appSnapshot!);
      const text = await readFile(path);
      expect(text.length).toBeGreaterThan(1000);
      // Garble a stretch in the middle, as a bad sector or a stray write would.
      const garbled = Buffer.concat([text.subarray(0, 500), randomBytes(64), text.subarray(564)]);
      await writeFile(path, garbled);
      const before = await fingerprint(storeDir);
      await expectCorrupt(`file:${storeDir}`, probeAll);
      expect(changedFiles(before, await fingerprint(storeDir))).toEqual([]);
    } finally {
      await dir.dispose();
    }
  });

  /** 20 kv writes and one 20-document batch left in the journal by a process that never closed. */
  async function fillJournal(storeDir: string): Promise<Buffer[]> {
    await runChild(fixture('journal-writer.mjs'), [`file:${storeDir}`, '20'], 30_000);
    const lines = await journalLines(storeDir);
    expect(lines.length, 'the journal holds a header and a line per batch').toBeGreaterThanOrEqual(22);
    return lines;
  }

  it('a corrupted journal line with good lines after it: CORRUPT, files untouched', async () => {
    const dir = await tempDir('bad-file-journal');
    try {
      const storeDir = join(dir.path, 'store');
      const lines = await fillJournal(storeDir);
      const victim = Math.floor(lines.length / 2);
      const line = Buffer.from(lines[victim]!);
      // Flip one character of the payload (not the newline): the checksum no longer matches.
      const at = Math.floor(line.length / 2);
      line[at] = line[at] === 0x41 ? 0x42 : 0x41;
      lines[victim] = line;
      await writeFile(join(storeDir, JOURNAL), Buffer.concat(lines));
      const before = await fingerprint(storeDir);
      await expectCorrupt(`file:${storeDir}`, probeAll);
      expect(changedFiles(before, await fingerprint(storeDir))).toEqual([]);
    } finally {
      await dir.dispose();
    }
  });

  it('a torn journal tail (half a line) is recovered silently; later writes land after it', async () => {
    const dir = await tempDir('torn-file-journal');
    try {
      const storeDir = join(dir.path, 'store');
      const url = `file:${storeDir}`;
      const lines = await fillJournal(storeDir);
      const sample = lines[lines.length - 1]!;
      await appendFile(join(storeDir, JOURNAL), sample.subarray(0, Math.floor(sample.length / 2)));

      let store = await openStore({ url, sweepInterval: false });
      try {
        expect((await store.verify()).ok).toBe(true);
        const values = await store.kv('app').getMany(Array.from({ length: 20 }, (_, i) => `k${i}`));
        values.forEach((v, i) => expect(v).toEqual({ i, text: `value ${i} `.repeat(5) }));
        expect(await store.collection('docs').count()).toBe(20);
        for (let i = 20; i < 30; i++) await store.kv('app').set(`k${i}`, { i, text: `value ${i} `.repeat(5) });
      } finally {
        await store.close();
      }
      // The torn bytes must not end up between good lines, where they would read as damage.
      store = await openStore({ url, sweepInterval: false });
      try {
        expect((await store.verify()).ok).toBe(true);
        const values = await store.kv('app').getMany(Array.from({ length: 30 }, (_, i) => `k${i}`));
        values.forEach((v, i) => expect(v).toEqual({ i, text: `value ${i} `.repeat(5) }));
      } finally {
        await store.close();
      }
    } finally {
      await dir.dispose();
    }
  });

  it('every file of the store is 0600 under umask 022', async () => {
    const dir = await tempDir('mode-file');
    try {
      const storeDir = join(dir.path, 'store');
      const store = await openStore({ driver: fileDriver({ dir: storeDir, compactBytes: 4096 }), sweepInterval: false });
      try {
        for (let i = 0; i < 100; i++) await store.kv('app').set(`k${i}`, { i, text: 'x'.repeat(100) });
        await store.collection('docs').insert({ id: 'd1' });
        await checkModes(storeDir);
      } finally {
        await store.close();
      }
      const files = await checkModes(storeDir);
      expect(files.some((f) => f.endsWith('.json'))).toBe(true);
      expect(files).toContain(JOURNAL);
    } finally {
      await dir.dispose();
    }
  });
});

/** Expects every regular file under `dir` to be 0600; returns their relative paths. */
async function checkModes(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    const info = await stat(path).catch(() => null); // a lock file may vanish meanwhile
    if (!info?.isFile()) continue;
    files.push(relative(dir, path));
    expect((info.mode & 0o777).toString(8), relative(dir, path)).toBe('600');
  }
  return files;
}
