import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStore, appDataDir, StrataError } from '../../src/index.js';
import { memoryDriver } from '../../src/drivers/memory.js';
import { parseDuration } from '../../src/codec/duration.js';
import { expectCode } from '../conformance/index.js';

describe('openStore', () => {
  it('refuses unknown URLs and bad options with BAD_INPUT', async () => {
    await expectCode(openStore('mysql://x'), 'BAD_INPUT');
    await expectCode(openStore('no-scheme'), 'BAD_INPUT');
    await expectCode(openStore({ url: 'memory:', durability: 'sometimes' as never }), 'BAD_INPUT');
    await expectCode(openStore('sqlite:x.db?durability=fast'), 'BAD_INPUT');
    // A misspelt parameter must not be ignored: the store would run without what was asked.
    await expectCode(openStore('sqlite:x.db?durabilty=normal'), 'BAD_INPUT');
    await expectCode(openStore('file:x?mmap=0'), 'BAD_INPUT');
    await expectCode(openStore('memory:?durability=full&cache=1'), 'BAD_INPUT');
    await expectCode(openStore({ url: 'memory:', sweepInterval: 'often' as never }), 'BAD_INPUT');
    await expectCode(openStore({ appName: '../etc' }), 'BAD_INPUT');
    await expectCode(openStore(42 as never), 'BAD_INPUT');
    await expectCode(openStore({ url: 'memory:', durabilty: 'full' } as never), 'BAD_INPUT');
    await expectCode(openStore({ url: 'memory:', encryption: { keys: 'k1:abc' } } as never), 'BAD_INPUT'); // a 2-byte key
    await expectCode(openStore({ url: 'memory:', blobs: 's3://b' } as never), 'UNSUPPORTED');
    await expectCode(openStore({ url: 'memory:', cache: { memory: { max: 10 } } } as never), 'UNSUPPORTED');
  });

  it('opens memory: and a driver instance', async () => {
    const a = await openStore('memory:');
    await a.kv('x').set('k', 1);
    expect(await a.kv('x').get('k')).toBe(1);
    await a.close();
    const b = await openStore({ driver: memoryDriver({ name: 'mine' }) });
    expect((await b.stats()).driver).toBe('mine');
    await b.close();
  });

  it('puts each app and environment in its own OS-conventional directory', () => {
    const prev = process.env.XDG_DATA_HOME;
    process.env.XDG_DATA_HOME = '/data';
    try {
      expect(appDataDir('kazari', 'production', 'linux')).toBe(join('/data', 'kazari', 'production'));
      expect(appDataDir('kazari', 'development', 'linux')).not.toBe(appDataDir('kazari', 'test', 'linux'));
      expect(appDataDir('kazari', 'test', 'darwin')).toContain(join('Library', 'Application Support', 'kazari', 'test'));
    } finally {
      if (prev === undefined) delete process.env.XDG_DATA_HOME;
      else process.env.XDG_DATA_HOME = prev;
    }
    expect(() => appDataDir('a/b', 'dev')).toThrow(StrataError);
  });
});

describe('durations', () => {
  it('parses numbers and unit strings strictly', () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    for (const bad of ['10 minutes', '', '5', 'm', 0, -1, Number.NaN, Infinity, '1y', null]) {
      expect(() => parseDuration(bad)).toThrow(StrataError);
    }
  });
});
