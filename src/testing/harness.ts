import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type OpenStoreOptions, type Store } from '../store.js';
import type { Driver } from '../drivers/driver.js';

/**
 * Opens a driver on `location`, a fresh empty directory per test. Opening the same location
 * again must see the same data when the driver is persistent.
 */
export type DriverFactory = (location: string) => Driver | Promise<Driver>;

/** A manual clock, so TTL tests need no sleeping. */
export class TestClock {
  now = Date.UTC(2026, 0, 1);
  readonly fn = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface Harness {
  clock: TestClock;
  location: string;
  /** The factory the harness opens drivers with (to open the location with other options). */
  factory: DriverFactory;
  store: Store;
  /** Closes the current store and opens a new one on the same location. */
  reopen(): Promise<Store>;
  /** A second store on the same location (another "process" for shared backends). */
  other(): Promise<Store>;
  dispose(): Promise<void>;
}

/** Store options every store of a conformance run is opened with (a layer stack, e.g. `encryption`). */
export type StackOptions = Omit<OpenStoreOptions, 'driver' | 'url' | 'clock' | 'sweepInterval'>;

const stacks = new WeakMap<DriverFactory, StackOptions>();

/** A factory whose stores are opened with `options` (runConformance's third argument). */
export function withStack(factory: DriverFactory, options: StackOptions): DriverFactory {
  const stacked: DriverFactory = (location) => factory(location);
  stacks.set(stacked, options);
  return stacked;
}

export async function makeHarness(factory: DriverFactory, options: StackOptions = stacks.get(factory) ?? {}): Promise<Harness> {
  const location = await mkdtemp(join(tmpdir(), 'strata-conf-'));
  const clock = new TestClock();
  const open = async (): Promise<Store> =>
    openStore({ ...options, driver: await factory(location), clock: clock.fn, sweepInterval: false });
  const extra: Store[] = [];
  const harness: Harness = {
    clock,
    location,
    factory,
    store: await open(),
    async reopen() {
      await harness.store.close();
      harness.store = await open();
      return harness.store;
    },
    async other() {
      const store = await open();
      extra.push(store);
      return store;
    },
    async dispose() {
      for (const store of extra) await store.close();
      await harness.store.close();
      await rm(location, { recursive: true, force: true });
    },
  };
  return harness;
}

/** A JSON replacer dropping `stamp`: it tells writes apart within one open driver, and a restore makes new ones. */
export const withoutStamps = (key: string, value: unknown): unknown => (key === 'stamp' ? undefined : value);
