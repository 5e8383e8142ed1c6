// appDataDir follows the OS conventions, and takes a directory from the environment only when
// it is an absolute path: the XDG Base Directory spec calls a relative $XDG_DATA_HOME invalid
// ("it should consider the path invalid and ignore it"), and the same holds for %APPDATA%.
// A relative base would resolve against the working directory, so two launches from two
// directories would open two different stores.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appDataDir } from '../../src/index.js';

const saved = { XDG_DATA_HOME: process.env.XDG_DATA_HOME, APPDATA: process.env.APPDATA };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('appDataDir: the base directory from the environment', () => {
  it('Linux: an absolute XDG_DATA_HOME is used; a relative or empty one is ignored for ~/.local/share', () => {
    process.env.XDG_DATA_HOME = '/data';
    expect(appDataDir('kazari', 'production', 'linux')).toBe(join('/data', 'kazari', 'production'));
    for (const value of ['relative/share', './share', '', '~/share']) {
      process.env.XDG_DATA_HOME = value;
      expect(appDataDir('kazari', 'production', 'linux'), value).toBe(join(homedir(), '.local', 'share', 'kazari', 'production'));
    }
    delete process.env.XDG_DATA_HOME;
    expect(appDataDir('kazari', 'production', 'linux')).toBe(join(homedir(), '.local', 'share', 'kazari', 'production'));
  });

  it('Windows: an absolute APPDATA is used; a relative or empty one is ignored for ~/AppData/Roaming', () => {
    process.env.APPDATA = 'C:\\Users\\me\\AppData\\Roaming';
    expect(appDataDir('kazari', 'test', 'win32')).toBe(join('C:\\Users\\me\\AppData\\Roaming', 'kazari', 'test'));
    for (const value of ['AppData', '']) {
      process.env.APPDATA = value;
      expect(appDataDir('kazari', 'test', 'win32'), value).toBe(join(homedir(), 'AppData', 'Roaming', 'kazari', 'test'));
    }
  });

  it('macOS ignores both variables', () => {
    process.env.XDG_DATA_HOME = '/data';
    process.env.APPDATA = '/appdata';
    expect(appDataDir('kazari', 'test', 'darwin')).toBe(join(homedir(), 'Library', 'Application Support', 'kazari', 'test'));
  });
});
