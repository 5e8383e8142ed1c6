// A manifest rewritten with a matching checksum (plain sha256: anyone can) must be exactly what
// the writer makes: no field it does not write, its fields in its order, and a journalSeq that
// its part backs. Before this, a manifest with an extra field ("evil": {...}) passed verify,
// restore and list, and so did journalSeq 999 over a part holding no journal at all (list
// reported it, and point-in-time restore starts its replay from it).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contentHash, signed } from './backup-forge-helpers.js';
import { openStore, type StrataError } from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-backup-manifest-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(call: () => Promise<unknown>): Promise<StrataError | null> {
  return Promise.resolve()
    .then(call)
    .then(
      () => null,
      (e: unknown) => e as StrataError,
    );
}

type Manifest = Record<string, unknown> & { parts: Array<Record<string, unknown>>; spaces: Record<string, number> };

describe.each(['sqlite', 'file'])('a manifest rewritten with a matching checksum (%s)', (kind) => {
  const urlOf = (name: string): string => (kind === 'sqlite' ? `sqlite:${join(dir, `${name}.db`)}` : `file:${join(dir, name)}`);

  it('is CORRUPT with a field the writer does not write, or its fields in another order', async () => {
    const store = await openStore({ url: urlOf('plain'), sweepInterval: false });
    try {
      await store.kv('a').set('x', 1);
      const to = join(dir, 'backups');
      const backup = await store.backup({ to });
      const path = join(backup.path, 'manifest.json');
      const text = await readFile(path, 'utf8');
      const m = JSON.parse(text) as Manifest;
      const { format, id, ...rest } = m;
      const { name, ...partRest } = m.parts[0]!;
      const live = await contentHash(store);
      const cases: Record<string, [string, RegExp]> = {
        'an unknown field "evil"': [signed({ ...m, evil: { anything: 'goes' } }), /field.*"evil"/],
        'an unknown field that is null': [signed({ ...m, note: null }), /field.*"note"/],
        'an unknown field in the part': [signed({ ...m, parts: [{ ...m.parts[0], url: 'http://x' }] }), /part .*field.*"url"/],
        'the fields in another order': [signed({ id, format, ...rest }), /not the text Strata wrote/],
        'the part fields in another order': [signed({ ...m, parts: [{ ...partRest, name }] }), /not the text Strata wrote/],
      };
      for (const [what, [hostile, reason]] of Object.entries(cases)) {
        await writeFile(path, hostile);
        for (const [call, run] of [
          ['verify', () => store.backups.verify(backup.id, { dir: to })],
          ['restore', () => store.restore(backup.id, { dir: to })],
          ['dry run', () => store.restore(backup.id, { dir: to, dryRun: true })],
        ] as Array<[string, () => Promise<unknown>]>) {
          const error = await refusal(run);
          expect(error?.code, `${call}: ${what}`).toBe('CORRUPT');
          expect(error?.message, `${call}: ${what}`).toMatch(reason);
          expect(error?.hint, `${call}: ${what}`).toContain('strata backup list');
        }
        const listed = await store.backups.list({ dir: to });
        expect(listed, what).toEqual([expect.objectContaining({ id: backup.id, damaged: true })]);
        expect(await contentHash(store), what).toBe(live);
      }
      await writeFile(path, text);
      expect((await store.backups.verify(backup.id, { dir: to })).ok).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('is CORRUPT when journalSeq is not what its part holds; list refuses one its spaces cannot back', async () => {
    const plain = await openStore({ url: urlOf('plain'), sweepInterval: false });
    const journaled = await openStore({ url: urlOf('journaled'), journal: { retention: '7d' }, sweepInterval: false });
    try {
      await plain.kv('a').set('x', 1);
      for (let i = 0; i < 5; i++) await journaled.kv('a').set(`k${i}`, i);
      const to = join(dir, 'backups');
      const without = await plain.backup({ to });
      const withJournal = await journaled.backup({ to });
      expect(withJournal.journalSeq).toBeGreaterThan(0);
      const seq = withJournal.journalSeq!;
      const live = await contentHash(plain);
      const edit = async (id: string, change: (m: Manifest) => Manifest): Promise<() => Promise<void>> => {
        const path = join(to, id, 'manifest.json');
        const text = await readFile(path, 'utf8');
        await writeFile(path, signed(change(JSON.parse(text) as Manifest)));
        return () => writeFile(path, text);
      };
      const cases: Array<[string, string, (m: Manifest) => Manifest, boolean]> = [
        // [what, backup, edit, listed as damaged]
        ['journalSeq 999, the part holds no journal', without.id, (m) => ({ ...m, parts: m.parts, journalSeq: 999 }), true],
        ['journalSeq 0, the part holds no journal', without.id, (m) => ({ ...m, journalSeq: 0 }), true],
        ['journalSeq past the last entry', withJournal.id, (m) => ({ ...m, journalSeq: seq + 5 }), false],
        ['journalSeq before the last entry', withJournal.id, (m) => ({ ...m, journalSeq: seq - 1 }), false],
        [
          'no journalSeq, the part holds a journal',
          withJournal.id,
          (m) => {
            const { journalSeq: _, ...rest } = m;
            return rest as Manifest;
          },
          false,
        ],
      ];
      for (const [what, id, change, damaged] of cases) {
        // journalSeq goes before parts, where the writer puts it.
        const restore = await edit(id, (m) => {
          const { parts, checksum: _, ...rest } = change(m);
          return { ...rest, parts } as Manifest;
        });
        for (const [call, run] of [
          ['verify', () => plain.backups.verify(id, { dir: to })],
          ['restore', () => plain.restore(id, { dir: to })],
          ['dry run', () => plain.restore(id, { dir: to, dryRun: true })],
        ] as Array<[string, () => Promise<unknown>]>) {
          const error = await refusal(run);
          expect(error?.code, `${call}: ${what}: ${error?.message}`).toBe('CORRUPT');
          expect(error?.message, `${call}: ${what}`).toMatch(/journal/);
        }
        const listed = (await plain.backups.list({ dir: to })).find((b) => b.id === id)!;
        expect('damaged' in listed, what).toBe(damaged);
        expect(await contentHash(plain), what).toBe(live);
        await restore();
      }
      expect((await plain.backups.verify(without.id, { dir: to })).ok).toBe(true);
      expect((await plain.backups.verify(withJournal.id, { dir: to })).ok).toBe(true);
      expect((await plain.backups.list({ dir: to })).find((b) => b.id === withJournal.id)).toMatchObject({ journalSeq: seq });
    } finally {
      await plain.close();
      await journaled.close();
    }
  });
});
