// Seed 003 (desktop): "Storage location must follow OS-specific conventions for application
// data". The Kazari store is `<OS data dir>/kazari/<env>/kazari.db`; on Linux the data dir is
// $XDG_DATA_HOME when it is an absolute path, else ~/.local/share (the XDG Base Directory
// spec: a relative path in these variables is invalid and must be ignored), so the store is
// the same whatever directory the app is started from.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kazariDataDir, storeUrl } from './persistence.js';

const saved = process.env.XDG_DATA_HOME;
afterEach(() => {
  if (saved === undefined) delete process.env.XDG_DATA_HOME;
  else process.env.XDG_DATA_HOME = saved;
});

describe.runIf(process.platform === 'linux')('desktop: the data location on Linux (XDG)', () => {
  it('a relative XDG_DATA_HOME is ignored: the data dir is ~/.local/share/kazari/<env>, an absolute path', () => {
    process.env.XDG_DATA_HOME = 'relative/share';
    const dir = kazariDataDir({ env: 'production' });
    expect(isAbsolute(dir), dir).toBe(true);
    expect(dir).toBe(join(homedir(), '.local', 'share', 'kazari', 'production'));
    expect(storeUrl(dir)).toContain(encodeURIComponent(homedir()));
  });

  it('an empty XDG_DATA_HOME is ignored too', () => {
    process.env.XDG_DATA_HOME = '';
    expect(kazariDataDir({ env: 'test' })).toBe(join(homedir(), '.local', 'share', 'kazari', 'test'));
  });
});
