// No plaintext secret anywhere on disk: canary secrets written through encrypted kv
// namespaces and encrypted collection fields (lookup fields too) must not appear, in any
// encoding, in any file under the store's directory: the SQLite file, its -wal and -shm while
// the store is open and after close, the file driver's journal before compaction, its
// snapshots after compactions, and temp files caught while compactions run. A plain control
// value written alongside must be found, so a scan that reads nothing cannot pass. Every file
// and directory the store created is private: 0600 and 0700. The same holds for backups made by
// store.backup, exports (unless written with decrypt: true, as documented) and the change
// journal, gzip files included.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { openStore, type Store } from '../../src/index.js';
import { fileDriver, fileInternals } from '../../src/drivers/file/index.js';

const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const ENCRYPTED_FIELDS = ['apiKey', 'profile.phone', { path: 'email', lookup: true }];

/** A distinctive secret: a unique ASCII core, decorated so JSON escaping changes its bytes. */
interface Canary {
  core: string;
  text: string;
}

function canary(kind: string): Canary {
  const core = `cnry${kind}${randomBytes(6).toString('hex')}`;
  return { core, text: `${core}-"quoted"\\é✓-${kind}` };
}

const escapeNonAscii = (s: string): string =>
  s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Base64 text that appears in any base64 encoding of data holding `bytes`, at each alignment. */
function base64Needles(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes]);
    for (const encoding of ['base64', 'base64url'] as const) {
      let text = padded.toString(encoding).replace(/=+$/, '');
      if (shift > 0) text = text.slice(4); // the first group mixes in the unknown bytes before
      const whole = Math.floor(padded.length / 3) * 4 - (shift > 0 ? 4 : 0);
      out.push(text.slice(0, whole)); // the last partial group depends on the bytes after
    }
  }
  return out.filter((n) => n.length >= 12);
}

/**
 * The byte patterns that would betray `c`, besides its core: its text JSON-escaped up to three
 * times (a value inside a JSON string inside a JSON line), with non-ASCII as \\u escapes or
 * not, its base64 and base64url at every alignment, UTF-16 and hex. Patterns that contain the
 * core are left out: the core search (one pass per file) finds them.
 */
function patterns(c: Canary): Buffer[] {
  const texts = new Set<string>([c.text]);
  let escaped = c.text;
  for (let level = 0; level < 3; level++) {
    escaped = JSON.stringify(escaped).slice(1, -1);
    texts.add(escaped);
    texts.add(escapeNonAscii(escaped));
  }
  for (const t of [c.text, c.core]) for (const b of base64Needles(Buffer.from(t, 'utf8'))) texts.add(b);
  const bytes = [...texts].filter((t) => !t.includes(c.core)).map((t) => Buffer.from(t, 'utf8'));
  bytes.push(Buffer.from(c.core, 'utf16le'), Buffer.from(Buffer.from(c.core).toString('hex')));
  return bytes;
}

const needleCache = new Map<string, Buffer[]>();

function needles(c: Canary): Buffer[] {
  let found = needleCache.get(c.core);
  if (found === undefined) needleCache.set(c.core, (found = patterns(c)));
  return found;
}

const CORE = /cnry[a-z]+[0-9a-f]{12}/g;

/** Whether `bytes` hold `c` in any form; `cores` are the canary cores found in them. */
function holds(bytes: Buffer, cores: ReadonlySet<string>, c: Canary): boolean {
  return cores.has(c.core) || needles(c).some((n) => bytes.includes(n));
}

interface Entry {
  path: string;
  dir: boolean;
  mode: number;
}

/** Every file and directory under `root` (root included), tolerating files that vanish meanwhile. */
async function walk(root: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (path: string): Promise<void> => {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    out.push({ path, dir: info.isDirectory(), mode: info.mode & 0o777 });
    if (!info.isDirectory()) return;
    for (const name of await readdir(path).catch(() => [])) await visit(join(path, name));
  };
  await visit(root);
  return out;
}

interface ScanResult {
  files: string[];
  /** "<canary core> in <file>" for every secret found. */
  leaks: string[];
  /** Files in which the control value was found. */
  control: string[];
  badModes: string[];
}

async function scan(root: string, secrets: readonly Canary[], control: Canary): Promise<ScanResult> {
  const result: ScanResult = { files: [], leaks: [], control: [], badModes: [] };
  for (const entry of await walk(root)) {
    const name = relative(root, entry.path) || '.';
    const wanted = entry.dir ? 0o700 : 0o600;
    if (entry.mode !== wanted) result.badModes.push(`${name} is ${entry.mode.toString(8)}`);
    if (entry.dir) continue;
    let bytes: Buffer;
    try {
      bytes = await readFile(entry.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    result.files.push(name);
    // Backups and exports are gzip: their contents are what a thief would read.
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = Buffer.concat([bytes, gunzipSync(bytes)]);
    const cores = new Set(bytes.toString('latin1').match(CORE) ?? []);
    for (const secret of secrets) if (holds(bytes, cores, secret)) result.leaks.push(`${secret.core} in ${name}`);
    if (holds(bytes, cores, control)) result.control.push(name);
  }
  return result;
}

/** Scans `root` over and over until `stop()` is called, to catch files that live only briefly. */
function scanMeanwhile(root: string, secrets: () => readonly Canary[], control: Canary) {
  let running = true;
  const seen = new Set<string>();
  const leaks = new Set<string>();
  const badModes = new Set<string>();
  const loop = (async () => {
    while (running) {
      const r = await scan(root, secrets(), control);
      r.files.forEach((f) => seen.add(f));
      r.leaks.forEach((l) => leaks.add(l));
      r.badModes.forEach((m) => badModes.add(m));
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { seen: [...seen], leaks: [...leaks], badModes: [...badModes] };
    },
  };
}

/** Writes secrets through every write path of encrypted namespaces and collections. */
class SecretWriter {
  readonly secrets: Canary[] = [];
  readonly control = canary('ctrl');
  #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  #next(kind: string): string {
    const c = canary(kind);
    this.secrets.push(c);
    return c.text;
  }

  async writeAll(round: number): Promise<void> {
    const store = this.#store;
    const vault = store.kv('vault', { encrypt: true });
    const users = store.collection('users', { encrypt: ENCRYPTED_FIELDS, indexes: ['email'] });
    await store.kv('plain').set(`ctrl${round}`, this.control.text);
    await vault.set(`token${round}`, this.#next('kvset'));
    await vault.set(`obj${round}`, { nested: { deep: this.#next('kvdeep') }, list: [this.#next('kvlist')], n: round });
    await vault.setMany([
      [`m${round}a`, this.#next('kvmany')],
      [`m${round}b`, { x: this.#next('kvmany2') }],
    ]);
    await vault.set(`ttl${round}`, this.#next('kvttl'), { ttl: '1h' });
    await vault.update(`token${round}`, () => this.#next('kvupd'));
    await store.transaction(async (tx) => {
      await tx.kv('vault').set(`tx${round}`, this.#next('kvtx'));
      await tx.collection('users').insert({ id: `tx${round}`, apiKey: this.#next('txapi'), email: this.#next('txmail') });
    });
    const email = this.#next('email');
    await users.insert({
      id: `u${round}`,
      email,
      apiKey: this.#next('api'),
      profile: { phone: this.#next('phone'), city: this.control.text },
    });
    await users.upsertMany([
      { id: `v${round}`, email: this.#next('upmail'), apiKey: this.#next('upapi'), profile: { phone: this.#next('upphone') } },
    ]);
    await users.update(`u${round}`, { apiKey: this.#next('updapi') });
    await users.updateWhere({ email }, { profile: { phone: this.#next('wherephone'), city: 'Oslo' } });
    expect((await users.query({ email })).map((u) => u.id)).toEqual([`u${round}`]);
    await vault.take(`m${round}a`);
  }

  /** Rewrites records of rounds `from`..`to` with secrets already written, to grow the journal. */
  async churn(writes: number, from: number, to: number): Promise<void> {
    const vault = this.#store.kv('vault');
    const users = this.#store.collection('users');
    for (let i = 0; i < writes; i++) {
      const round = from + (i % (to - from + 1));
      const secret = this.secrets[i % this.secrets.length]!.text;
      if (i % 2 === 0) await vault.set(`token${round}`, { secret, pad: 'x'.repeat(300), i });
      else await users.update(`u${round}`, { apiKey: secret, profile: { phone: secret, city: this.control.text } });
    }
  }
}

let root: string;
let previousUmask: number;
beforeEach(() => {
  previousUmask = process.umask(0o022);
  root = mkdtempSync(join(tmpdir(), 'strata-scan-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  process.umask(previousUmask);
});

function expectClean(result: ScanResult, where: string): void {
  expect(result.leaks, `${where}: secrets found`).toEqual([]);
  expect(result.badModes, `${where}: modes`).toEqual([]);
  expect(result.control.length, `${where}: the control value was not found in ${result.files.join(', ')}`).toBeGreaterThan(0);
}

describe('no plaintext secret in any file the store writes', () => {
  it('the scanner finds a canary in each form it looks for', () => {
    const c = canary('self');
    const forms: Buffer[] = [Buffer.from(`x${c.text}y`), Buffer.from(JSON.stringify({ v: JSON.stringify({ s: c.text }) }))];
    forms.push(Buffer.from(escapeNonAscii(JSON.stringify([c.text]))));
    for (let pad = 0; pad < 3; pad++) {
      const inner = Buffer.concat([Buffer.alloc(pad, 7), Buffer.from(c.text), Buffer.from('tail')]);
      forms.push(Buffer.from(`"${inner.toString('base64')}"`), Buffer.from(inner.toString('base64url')));
    }
    forms.push(Buffer.from(`..${c.core}..`, 'utf16le'), Buffer.from(`00${Buffer.from(c.core).toString('hex')}ff`));
    for (const bytes of forms) {
      const cores = new Set(bytes.toString('latin1').match(CORE) ?? []);
      expect(holds(bytes, cores, c), bytes.toString('latin1')).toBe(true);
    }
    expect(holds(Buffer.from('nothing here'), new Set(), c)).toBe(false);
  });

  it('sqlite: the database, -wal and -shm while open, and after close', async () => {
    const dir = join(root, 'store'); // created by the store
    const store = await openStore({ url: `sqlite:${join(dir, 'app.db')}`, encryption: { keys: KEYS }, sweepInterval: false });
    const writer = new SecretWriter(store);
    for (let round = 0; round < 5; round++) await writer.writeAll(round);
    const open = await scan(dir, writer.secrets, writer.control);
    expect(open.files).toEqual(expect.arrayContaining(['app.db', 'app.db-wal', 'app.db-shm']));
    // The writes are still in the write-ahead log, not yet in the database file.
    expect(open.control).toContain('app.db-wal');
    expectClean(open, 'sqlite, open');
    await store.close();
    const closed = await scan(dir, writer.secrets, writer.control);
    expect(closed.control).toContain('app.db');
    expectClean(closed, 'sqlite, closed');
    expect(writer.secrets.length).toBe(5 * 18);
  });

  it('file: the journal before compaction, snapshots and temp files after many writes compact it', async () => {
    const dir = join(root, 'fstore'); // created by the store
    // First only the journal: compaction far away.
    let store = await openStore({
      driver: fileDriver({ dir, compactBytes: 64 * 1024 * 1024 }),
      encryption: { keys: KEYS },
      sweepInterval: false,
    });
    const writer = new SecretWriter(store);
    for (let round = 0; round < 3; round++) await writer.writeAll(round);
    const journal = await scan(dir, writer.secrets, writer.control);
    expect(journal.control).toContain('journal.log');
    expectClean(journal, 'file, journal');
    await store.close();

    // Then many writes with a small threshold, so compactions run while a scanner watches.
    const driver = fileDriver({ dir, compactBytes: 8 * 1024 });
    store = await openStore({ driver, encryption: { keys: KEYS }, sweepInterval: false });
    const more = new SecretWriter(store);
    const watcher = scanMeanwhile(dir, () => [...writer.secrets, ...more.secrets], more.control);
    for (let round = 10; round < 14; round++) await more.writeAll(round);
    await more.churn(200, 10, 13);
    const internals = await driver[fileInternals]();
    await internals.compact();
    const meanwhile = await watcher.stop();
    const all = [...writer.secrets, ...more.secrets];
    const compacted = await scan(dir, all, more.control);
    const snapshots = compacted.files.filter((f) => f.endsWith('.json'));
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    expect(compacted.control.some((f) => f.endsWith('.json'))).toBe(true);
    expectClean(compacted, 'file, compacted');
    expect(meanwhile.leaks, 'secrets found by the scans during compaction').toEqual([]);
    expect(meanwhile.badModes, 'modes seen during compaction').toEqual([]);
    await store.close();
    const closed = await scan(dir, all, more.control);
    expectClean(closed, 'file, closed');
    expect(internals.counters.compactions).toBeGreaterThan(0);
  });

  it.each(['sqlite', 'file'] as const)(
    '%s: backups, exports and the change journal hold ciphertext only; a decrypt: true export holds plain text',
    async (kind) => {
      const dir = join(root, 'store');
      const options = { encryption: { keys: KEYS }, sweepInterval: false as const, journal: { retention: '7d' as const } };
      const store = await openStore(
        kind === 'sqlite' ? { ...options, url: `sqlite:${join(dir, 'app.db')}` } : { ...options, driver: fileDriver({ dir }) },
      );
      const writer = new SecretWriter(store);
      for (let round = 0; round < 3; round++) await writer.writeAll(round);
      await store.backup({ to: join(root, 'backups') });
      await writer.churn(40, 0, 2);
      await store.backup({ to: join(root, 'backups') });
      mkdirSync(join(root, 'exports'), { mode: 0o700 });
      await store.export(join(root, 'exports', 'app.strata'));
      const copies = await scan(root, writer.secrets, writer.control);
      expect(copies.files.filter((f) => f.startsWith('backups/')).length).toBeGreaterThanOrEqual(4);
      expect(copies.control).toEqual(expect.arrayContaining([join('exports', 'app.strata')]));
      expect(copies.control.some((f) => f.startsWith('backups/'))).toBe(true);
      expectClean(copies, `${kind}, backups and export`);

      mkdirSync(join(root, 'plain'), { mode: 0o700 });
      await store.export(join(root, 'plain', 'app.strata'), { decrypt: true });
      await store.close();
      const plain = await scan(join(root, 'plain'), writer.secrets, writer.control);
      expect(plain.leaks.length, 'a decrypted export holds the values').toBeGreaterThan(0);
    },
  );
});
