// A file-driver snapshot laid out as Strata writes it is parsed in steps of 1,000 members
// with turns of the event loop between them; any other layout is parsed whole. Both must give
// the same records and the same verdicts, so these compare the two on the same content.
import { describe, expect, it } from 'vitest';
import type { StoredRecord } from '../../src/drivers/driver.js';
import { RecordMap } from '../../src/drivers/record-map.js';
import { isDeepStrictEqual } from 'node:util';
import { decodeSnapshot, parseInSteps, snapshotText } from '../../src/drivers/file/snapshot.js';

async function textOf(records: RecordMap, space = 'kv.s'): Promise<string> {
  let text = '';
  for await (const piece of snapshotText(space, 7, records)) text += piece;
  return text;
}

function mapOf(n: number, extra: StoredRecord[] = []): RecordMap {
  const map = new RecordMap();
  const record = (key: string, value: unknown, i: number): StoredRecord => ({
    key,
    value: JSON.stringify(value),
    version: 1 + (i % 3),
    createdAt: 1_700_000_000_000 + i,
    updatedAt: 1_700_000_000_500 + i,
    expiresAt: i % 5 === 0 ? 1_800_000_000_000 : null,
  });
  for (let i = 0; i < n; i++) {
    // Integer-like keys (JSON.parse lists them first), nested values, text that needs escapes.
    const key = i % 7 === 0 ? String(i) : `k${i}`;
    map.set(key, record(key, { i, nested: { list: [i, 'a,\n    "b"', { deep: true }] }, text: 'é😀"\\' }, i));
  }
  for (const r of extra) map.set(r.key, r);
  return map;
}

/** The same text, laid out otherwise (CRLF line ends): JSON.parse reads it whole. */
const relaid = (text: string): string => text.replaceAll('\n', '\r\n');

const verdict = async (text: string): Promise<unknown> => {
  try {
    const s = await decodeSnapshot(text, 'kv.s');
    return s.kind === 'newer' ? s : { kind: s.kind, seq: s.seq, records: s.records };
  } catch (error) {
    // JSON.parse's own detail names a position, which the CRLF layout moves.
    return { error: (error as Error).message.replace(/not valid JSON \(.*\);/s, 'not valid JSON (...);') };
  }
};

describe('file snapshots parsed in steps', () => {
  it('gives the records JSON.parse of the whole text gives, integer-like and "__proto__" keys included', async () => {
    const proto: StoredRecord = { key: '__proto__', value: '{"x":1}', version: 2, createdAt: 1, updatedAt: 2, expiresAt: null };
    const text = await textOf(mapOf(4_321, [proto]));
    const stepped = await verdict(text);
    expect(stepped).toEqual(await verdict(relaid(text)));
    // Re-indented (here: no indentation at all) is read too, whole.
    expect(await verdict(JSON.stringify(JSON.parse(text)))).toEqual(stepped);
    expect((stepped as { records: StoredRecord[] }).records).toHaveLength(4_322);
  });

  it('an empty space and a one-record space read back', async () => {
    for (const n of [0, 1]) {
      const text = await textOf(mapOf(n));
      expect(await verdict(text)).toEqual(await verdict(relaid(text)));
      expect((await decodeSnapshot(text, 'kv.s')).kind).toBe('current');
    }
  });

  it('gives the event loop turns while it parses (a whole parse gives none)', async () => {
    const text = await textOf(mapOf(20_000));
    const turnsDuring = async (input: string): Promise<number> => {
      let turns = 0;
      let done = false;
      const spin = (): void => {
        turns++;
        if (!done) setImmediate(spin);
      };
      setImmediate(spin);
      await decodeSnapshot(input, 'kv.s');
      done = true;
      return turns;
    };
    // 20 steps of parsing and 20 of checking, against the 20 of checking alone.
    expect(await turnsDuring(text)).toBeGreaterThanOrEqual(38);
    expect(await turnsDuring(relaid(text))).toBeLessThan(30);
  });

  it('damage gives the same verdict either way: a repeated member, renamed records, a cut, a flipped brace, a changed seq', async () => {
    const text = await textOf(mapOf(2_500));
    const first = text.indexOf('\n    "', text.indexOf('"records"'));
    const second = text.indexOf(',\n    "', first + 1);
    const member = text.slice(first, second);
    // A member repeated unchanged later in the file, or an empty "records" before the real
    // one: JSON.parse keeps the last of each, so the data read is exact, either way.
    for (const harmless of [
      text.replace('\n  }\n}\n', `,${member}\n  }\n}\n`),
      text.replace('{\n  "format"', '{\n  "records": {},\n  "format"'),
    ]) {
      expect(await verdict(harmless)).toEqual(await verdict(text));
      expect(await verdict(harmless)).toEqual(await verdict(relaid(harmless)));
    }
    const cases = [
      // Repeated with another value: the kept one fails its checksum.
      text.replace('\n  }\n}\n', `,${member.replace('"i": ', '"i": 1')}\n  }\n}\n`),
      text.replace('{\n  "format"', '{\n  "records": {"x": 1},\n  "format"').replace('\n  "records": {\n', '\n  "recordz": {\n'),
      text.slice(0, text.length - 3),
      `${text.slice(0, second + 500)}]${text.slice(second + 501)}`,
      text.replace(`"seq": 7`, `"seq": 8`),
    ];
    for (const damaged of cases) {
      const stepped = await verdict(damaged);
      expect(stepped, `case ${cases.indexOf(damaged)}`).toHaveProperty('error');
      expect(stepped).toEqual(await verdict(relaid(damaged)));
    }
  });

  it('at every offset of a damaged snapshot, a stepped parse is JSON.parse of the whole text or declines', async () => {
    // Steps of 3 members, so that damage meets the step boundaries too. Measured once with
    // more kinds of damage (37,141 texts, 10,755 parsed in steps): no difference.
    const text = await textOf(mapOf(25));
    const bytes = Buffer.from(text);
    const damaged: string[] = [];
    for (let at = 0; at < bytes.length; at++) {
      for (const mask of [0x01, 0x20]) {
        const copy = Buffer.from(bytes);
        copy[at]! ^= mask;
        damaged.push(copy.toString('utf8'));
      }
      damaged.push(Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]).toString('utf8'));
    }
    let stepped = 0;
    for (let i = 0; i < damaged.length; i++) {
      const parsed = await parseInSteps(damaged[i]!, 3);
      if (parsed === undefined) continue;
      stepped++;
      let whole: unknown;
      try {
        whole = JSON.parse(damaged[i]!);
      } catch {
        whole = 'not JSON';
      }
      const keys = (o: unknown): string => Object.keys((o as { records?: object }).records ?? {}).join('\u0000');
      if (!isDeepStrictEqual(whole, parsed) || keys(whole) !== keys(parsed))
        expect.fail(`a stepped parse differs from JSON.parse on damaged text ${i}`);
    }
    expect(stepped).toBeGreaterThan(1000);
  }, 60_000);
});
