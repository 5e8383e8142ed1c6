import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../reliability/helpers.js';
import type { Store, StrataError } from '../../src/index.js';
import type { Migration, MigrationContext } from '../../src/ops/migrate-types.js';
import { BACKENDS, dump, open, urlFor } from './migrate-helpers.js';

async function rejection(promise: Promise<unknown>): Promise<StrataError> {
  try {
    await promise;
  } catch (error) {
    return error as StrataError;
  }
  throw new Error('expected a rejection');
}

const seed = async (store: Store): Promise<void> => {
  await store.kv('app').set('theme', 'dark');
  await store.collection('tasks').insertMany([
    { id: 't1', title: 'one' },
    { id: 't2', title: 'two' },
  ]);
};

describe.each(BACKENDS)('migrations on %s', (backend) => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir('migrate');
    store = await open(urlFor(backend, dir.path));
    await seed(store);
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  const list: Migration[] = [
    { name: '002_priority', up: async (m) => void (await m.collection('tasks').updateWhere({}, { priority: 'normal' })) },
    {
      name: '001_counter',
      up: async (m) => void (await m.kv('app').set('runs', 1)),
      down: async (m) => void (await m.kv('app').delete('runs')),
    },
  ];

  it('applies pending migrations once, in name order, and records them', async () => {
    const order: string[] = [];
    const spy = list.map((m) => ({
      ...m,
      up: async (c: MigrationContext) => (order.push(m.name), (m.up as (c: MigrationContext) => Promise<void>)(c)),
    }));
    const before = Date.now();
    const result = await store.migrate({ migrations: spy });
    expect(result.applied).toEqual(['001_counter', '002_priority']);
    expect(order).toEqual(['001_counter', '002_priority']);
    expect(await store.kv('app').get('runs')).toBe(1);
    expect(await store.collection('tasks').get('t2')).toEqual({ id: 't2', title: 'two', priority: 'normal' });
    expect((await store.migrate({ migrations: spy })).applied).toEqual([]);
    expect(order).toHaveLength(2);
    const status = await store.migrations.status();
    expect(status.map((s) => [s.name, s.state, s.kind, s.hasDown])).toEqual([
      ['001_counter', 'applied', 'function', true],
      ['002_priority', 'applied', 'function', false],
    ]);
    for (const s of status) {
      expect(s.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(Date.parse(s.appliedAt!)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(s.startedAt!)).toBeLessThanOrEqual(Date.parse(s.appliedAt!));
    }
    // Stays out of names() and stats(): the record is a meta space.
    expect((await store.names()).kv).toEqual(['app']);
  });

  it('status lists pending migrations of a source too', async () => {
    await store.migrate({ migrations: [list[1]!] });
    const status = await store.migrations.status({ migrations: list });
    expect(status.map((s) => [s.name, s.state, s.appliedAt === null])).toEqual([
      ['001_counter', 'applied', false],
      ['002_priority', 'pending', true],
    ]);
  });

  it('refuses an applied migration whose source changed, unless told to accept it', async () => {
    await store.migrate({ migrations: list });
    const changed = [{ ...list[1]!, up: async (m: MigrationContext) => void (await m.kv('app').set('runs', 2)) }, list[0]!];
    const before = await dump(store, backend, dir.path);
    const error = await rejection(store.migrate({ migrations: changed }));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.details?.migration).toBe('001_counter');
    expect(await dump(store, backend, dir.path)).toBe(before);
    expect((await store.migrations.status({ migrations: changed }))[0]!.state).toBe('changed');
    const accepted = await store.migrate({ migrations: changed }, { acceptChecksums: true });
    expect(accepted.applied).toEqual([]);
    expect(await store.kv('app').get('runs')).toBe(1); // accepted, not run again
    expect((await store.migrations.status({ migrations: changed }))[0]!.state).toBe('applied');
  });

  it('a migration that throws half way leaves the store exactly as it was', async () => {
    await store.migrate({ migrations: [list[1]!] });
    const before = await dump(store, backend, dir.path);
    const boom = new Error('boom');
    const error = await rejection(
      store.migrate({
        migrations: [
          {
            name: '003_half',
            up: async (m) => {
              for (let i = 0; i < 50; i++) await m.kv('app').set(`k${i}`, i);
              await m.collection('tasks').delete('t1');
              await m.kv('app').set('theme', 'light');
              throw boom;
            },
          },
        ],
      }),
    );
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.details?.migration).toBe('003_half');
    expect(error.cause).toBe(boom);
    expect(await dump(store, backend, dir.path)).toBe(before);
    expect((await store.migrations.status()).map((s) => [s.name, s.state])).toEqual([
      ['001_counter', 'missing'], // applied, and not in the source of the last run
      ['003_half', 'pending'],
    ]);
  });

  it('down runs the downs newest first back to (not including) `to`, checked before anything runs', async () => {
    const three: Migration[] = [
      ...list,
      {
        name: '003_flag',
        up: async (m) => void (await m.kv('app').set('flag', true)),
        down: async (m) => void (await m.kv('app').delete('flag')),
      },
    ];
    await store.migrate({ migrations: three });
    const before = await dump(store, backend, dir.path);
    const blocked = await rejection(store.migrations.down({ to: null }));
    expect(blocked.code).toBe('MIGRATION_FAILED');
    expect(blocked.details?.migration).toBe('002_priority');
    expect(await dump(store, backend, dir.path)).toBe(before);
    expect((await rejection(store.migrations.down({ to: 'nope' }))).code).toBe('NOT_FOUND');
    expect(await store.migrations.down({ to: '002_priority' })).toEqual({ reverted: ['003_flag'] });
    expect(await store.kv('app').get('flag')).toBeNull();
    expect((await store.migrations.status()).map((s) => s.state)).toEqual(['applied', 'applied', 'pending']);
    // Applied again after a down: it is pending, not "already applied".
    expect((await store.migrate({ migrations: three })).applied).toEqual(['003_flag']);
  });

  it('walks a collection in batches with progress', async () => {
    await store
      .collection('docs')
      .insertMany(Array.from({ length: 25 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}`, n: i })));
    const seen: unknown[] = [];
    let batches = 0;
    await store.migrate(
      {
        migrations: [
          {
            name: '010_double',
            up: async (m) => {
              const walked = await m.batches('docs', { size: 10 }, async (docs, b) => {
                batches++;
                for (const d of docs) await b.collection('docs').update(d.id as string, { n: (d.n as number) * 2 });
              });
              await m.kv('app').set('walked', walked);
            },
          },
        ],
      },
      { onProgress: (p) => seen.push(p.phase === 'batch' ? [p.phase, p.done, p.total] : p.phase) },
    );
    expect(batches).toBe(3);
    expect(seen).toEqual(['start', ['batch', 10, 25], ['batch', 20, 25], ['batch', 25, 25], 'done']);
    expect(await store.kv('app').get('walked')).toBe(25);
    expect((await store.collection('docs').get('d24'))?.n).toBe(48);
  });

  it('refuses bad input at every entry point, changing nothing', async () => {
    const before = await dump(store, backend, dir.path);
    const up = async (): Promise<void> => {};
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => store.migrate({ migrations: list }, { acceptChecksum: true } as never), 'BAD_INPUT'],
      [() => store.migrate({ migrations: list }, { onProgress: 'x' } as never), 'BAD_INPUT'],
      [() => store.migrate({ migrations: list }, { leaseTtl: 'soon' } as never), 'BAD_INPUT'],
      [() => store.migrate({ migrations: list }, { acceptChecksums: 'yes' } as never), 'BAD_INPUT'],
      [
        () =>
          store.migrate({
            migrations: [
              { name: 'a', up },
              { name: 'a', up },
            ],
          }),
        'BAD_INPUT',
      ],
      [() => store.migrate({ migrations: [{ name: 'a', up: 42 }] } as never), 'BAD_INPUT'],
      [() => store.migrate({ migrations: [{ name: 'a', up, down: 7 }] } as never), 'BAD_INPUT'],
      [() => store.migrate({ migrations: [{ name: 'a', up, dwn: up }] } as never), 'BAD_INPUT'],
      [() => store.migrate({ migrations: [{ name: '../x', up }] }), 'BAD_INPUT'],
      [() => store.migrate({ migrations: [{ name: '', up }] }), 'BAD_INPUT'],
      [() => store.migrate({ migrations: 'x' } as never), 'BAD_INPUT'],
      [() => store.migrate({ dir: 'a', migrations: [] } as never), 'BAD_INPUT'],
      [() => store.migrate({} as never), 'BAD_INPUT'],
      [() => store.migrate(null as never), 'BAD_INPUT'],
      [() => store.migrate({ dir: join(dir.path, 'missing') }), 'NOT_FOUND'],
      [() => store.migrations.down({ to: 'x', fast: true } as never), 'BAD_INPUT'],
      [() => store.migrations.down({} as never), 'BAD_INPUT'],
      [() => store.migrations.down({ to: 3 } as never), 'BAD_INPUT'],
    ];
    for (const [call, code] of cases) expect((await rejection(call())).code, String(call)).toBe(code);
    const bad = await rejection(
      store.migrate({ migrations: [{ name: 'b', up: async (m) => void (await m.batches('tasks', { size: 0 }, () => {})) }] }),
    );
    expect(bad.code).toBe('MIGRATION_FAILED');
    expect((bad.cause as StrataError).code).toBe('BAD_INPUT');
    expect(await dump(store, backend, dir.path)).toBe(before);
  });

  if (backend !== 'sqlite') {
    it('SQL is UNSUPPORTED, before anything runs', async () => {
      const before = await dump(store, backend, dir.path);
      const ran: string[] = [];
      const error = await rejection(
        store.migrate({
          migrations: [
            { name: '001', up: async () => void ran.push('001') },
            { name: '002', up: 'CREATE TABLE t (a)' },
          ],
        }),
      );
      expect(error.code).toBe('UNSUPPORTED');
      expect(error.details?.migration).toBe('002');
      expect(ran).toEqual([]);
      const tag = await rejection(store.migrate({ migrations: [{ name: '003', up: async (m) => void m.sql`SELECT 1` }] }));
      expect(tag.code).toBe('MIGRATION_FAILED');
      expect((tag.cause as StrataError).code).toBe('UNSUPPORTED');
      expect(await dump(store, backend, dir.path)).toBe(before);
    });
  }
});

describe('SQL migrations on sqlite', () => {
  let dir: { path: string; dispose(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir('migrate-sql');
    store = await open(urlFor('sqlite', dir.path));
    await seed(store);
  });
  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  it('runs SQL text and m.sql (parameterised) on the store file; verify accepts user tables', async () => {
    const evil = "x'); DROP TABLE users; --";
    await store.migrate({
      migrations: [
        {
          name: '001_users',
          up: 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE INDEX users_name ON users (name);',
          down: 'DROP TABLE users',
        },
        {
          name: '002_seed',
          up: async (m) => {
            void m.sql`INSERT INTO users (name) VALUES (${'ana'}), (${evil})`;
            const rows = m.sql`SELECT name FROM users WHERE name = ${evil}`;
            await m.kv('app').set('found', (rows as Array<{ name: string }>).length);
          },
          down: async (m) => {
            void m.sql`DELETE FROM users`;
            await m.kv('app').delete('found');
          },
        },
      ],
    });
    expect(await store.kv('app').get('found')).toBe(1);
    expect((await store.verify()).ok).toBe(true);
    await store.migrations.down({ to: null });
    expect(await store.kv('app').get('found')).toBeNull();
    expect((await store.migrations.status()).map((s) => s.state)).toEqual(['pending', 'pending']);
  });

  it('a failing SQL migration leaves neither its tables nor its record, nor the data its m.sql wrote', async () => {
    await store.migrate({ migrations: [{ name: '001', up: 'CREATE TABLE t (a INTEGER NOT NULL)' }] });
    const before = await dump(store, 'sqlite', dir.path);
    const sqlError = await rejection(
      store.migrate({
        migrations: [
          { name: '001', up: 'CREATE TABLE t (a INTEGER NOT NULL)' },
          { name: '002', up: 'CREATE TABLE u (a); INSERT INTO nope VALUES (1);' },
        ],
      }),
    );
    expect(sqlError.code).toBe('MIGRATION_FAILED');
    expect(sqlError.details?.migration).toBe('002');
    const tagError = await rejection(
      store.migrate({
        migrations: [
          {
            name: '003',
            up: async (m) => {
              for (let i = 0; i < 20; i++) void m.sql`INSERT INTO t (a) VALUES (${i})`;
              await m.kv('app').set('theme', 'light');
              void m.sql`INSERT INTO t (a) VALUES (${null})`;
            },
          },
        ],
      }),
    );
    expect(tagError.details?.migration).toBe('003');
    expect(await dump(store, 'sqlite', dir.path)).toBe(before);
  });
});

describe('batched migrations with SQL on sqlite', () => {
  it('each batch commits its m.sql with its documents; m.sql before m.batches is BAD_INPUT', async () => {
    const dir = await tempDir('migrate-batch-sql');
    const store = await open(urlFor('sqlite', dir.path));
    try {
      await store.collection('docs').insertMany(Array.from({ length: 30 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}` })));
      await store.migrate({
        migrations: [
          { name: '001', up: 'CREATE TABLE seen (id TEXT PRIMARY KEY)' },
          {
            name: '002',
            up: async (m) => {
              await m.batches('docs', { size: 7 }, async (docs, b) => {
                for (const d of docs) void b.sql`INSERT INTO seen (id) VALUES (${d.id})`;
              });
            },
          },
        ],
      });
      const rows = await store.migrate({
        migrations: [
          {
            name: '003',
            up: async (m) =>
              void (await m.kv('app').set('n', (m.sql`SELECT count(*) AS n FROM seen` as Array<{ n: number }>)[0]!.n)),
          },
        ],
      });
      expect(rows.applied).toEqual(['003']);
      expect(await store.kv('app').get('n')).toBe(30);
      const bad = await rejection(
        store.migrate({
          migrations: [
            {
              name: '004',
              up: async (m) => {
                void m.sql`DELETE FROM seen`;
                await m.batches('docs', { size: 7 }, () => {});
              },
            },
          ],
        }),
      );
      expect((bad.cause as StrataError).code).toBe('BAD_INPUT');
      expect(await store.kv('app').get('n')).toBe(30);
      expect(
        (
          await store.migrate({
            migrations: [
              {
                name: '005',
                up: async (m) =>
                  void (await m.kv('app').set('left', (m.sql`SELECT count(*) AS n FROM seen` as Array<{ n: number }>)[0]!.n)),
              },
            ],
          })
        ).applied,
      ).toEqual(['005']);
      expect(await store.kv('app').get('left')).toBe(30); // 004's DELETE was rolled back
    } finally {
      await store.close();
      await dir.dispose();
    }
  });
});

describe('discovery from a directory', () => {
  let dir: { path: string; dispose(): Promise<void> };
  beforeEach(async () => {
    dir = await tempDir('migrate-dir');
  });
  afterEach(async () => dir.dispose());

  it('reads .sql (with -- down), .mjs up/down modules and seed-004 style SQL constants, in name order', async () => {
    const m = join(dir.path, 'migrations');
    await mkdir(m);
    await writeFile(join(m, '000_init.sql'), '-- up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n-- down\nDROP TABLE users;\n');
    await writeFile(join(m, 'README.md'), 'not a migration');
    await writeFile(
      join(m, '001_fn.mjs'),
      "export async function up(m) { await m.kv('app').set('fn', true); }\nexport async function down(m) { await m.kv('app').delete('fn'); }\n",
    );
    // Seed 004: every exported string constant is one migration, named after its export...
    await writeFile(
      join(m, '002_feature.mjs'),
      'export const c_add_avatar = `ALTER TABLE users ADD COLUMN avatar TEXT;`;\nexport const b_add_name = `ALTER TABLE users ADD COLUMN name TEXT;`;\n',
    );
    // ...and its index.ts re-exports them all: the same constant counts once.
    await writeFile(join(m, 'index.mjs'), "export * from './002_feature.mjs';\n");
    const store = await open(urlFor('sqlite', dir.path));
    try {
      const result = await store.migrate({ dir: m });
      expect(result.applied).toEqual(['000_init', '001_fn', 'b_add_name', 'c_add_avatar']);
      const status = await store.migrations.status();
      expect(status.map((s) => [s.name, s.kind, s.hasDown])).toEqual([
        ['000_init', 'sql', true],
        ['001_fn', 'function', true],
        ['b_add_name', 'sql', false],
        ['c_add_avatar', 'sql', false],
      ]);
      await store.migrations.down({ to: 'c_add_avatar' }); // nothing after it
      expect((await store.migrations.status()).every((s) => s.state === 'applied')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses a .down.sql file, a duplicate name across files, and (without a loader) .ts files', async () => {
    const store = await open(urlFor('memory', dir.path));
    try {
      const a = join(dir.path, 'a');
      await mkdir(a);
      await writeFile(join(a, '001.sql'), 'SELECT 1;');
      await writeFile(join(a, '001.down.sql'), 'SELECT 2;');
      expect((await rejection(store.migrate({ dir: a }))).code).toBe('BAD_INPUT');
      const b = join(dir.path, 'b');
      await mkdir(b);
      await writeFile(join(b, '001.sql'), 'SELECT 1;');
      await writeFile(join(b, '001.mjs'), 'export const up = async () => {};');
      expect((await rejection(store.migrate({ dir: b }))).code).toBe('BAD_INPUT');
      const c = join(dir.path, 'c');
      await mkdir(c);
      await writeFile(join(c, '001.ts'), 'export const up = async (): Promise<void> => {};');
      const canTs = Boolean((process.features as { typescript?: unknown }).typescript);
      if (!canTs) expect((await rejection(store.migrate({ dir: c }))).code).toBe('UNSUPPORTED');
      const f = join(dir.path, 'file.sql');
      await writeFile(f, 'SELECT 1');
      expect((await rejection(store.migrate({ dir: f }))).code).toBe('BAD_INPUT');
      expect(await store.migrations.status()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe('the migrator lease', () => {
  const lease = (until: number) =>
    ({
      type: 'put',
      space: 'meta.migrations-lock',
      key: 'lease',
      value: JSON.stringify({ owner: 'other', process: 'another-host:123', until }),
      expiresAt: null,
    }) as const;
  const one: Migration[] = [{ name: '001', up: async (m) => void (await m.kv('app').set('x', 1)) }];

  it('waits for a live lease of another machine (TIMEOUT after `wait`), takes an expired one over', async () => {
    const store = await open('memory:');
    try {
      await store.driver.batch([lease(Date.now() + 60_000)], Date.now());
      const started = Date.now();
      expect((await rejection(store.migrate({ migrations: one }, { wait: 300 }))).code).toBe('TIMEOUT');
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(await store.kv('app').get('x')).toBeNull();
      await store.driver.batch([lease(Date.now() - 1)], Date.now());
      expect((await store.migrate({ migrations: one }, { wait: 300 })).applied).toEqual(['001']);
      // Released after the run.
      expect(await store.driver.get('meta.migrations-lock', 'lease', Date.now())).toBeNull();
    } finally {
      await store.close();
    }
  });
});
