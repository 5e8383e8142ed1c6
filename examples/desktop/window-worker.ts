// One "window" of the desktop app, as a child process of desktop.test.ts (run with vite-node):
// opens the shared store, prints R, waits for `go`, then creates `n` tasks and updates
// settings while watching tasks and settings; prints `D <json>` once it has seen every
// window's tasks (or after 20 s).
//   usage: window-worker.ts <dataDir> <windowId> <n> <windows>   (STRATA_KEYS in the environment)
import { openKazari } from './persistence.js';
import { taskCollection } from './tasks.js';

const [dataDir, id, nArg, windowsArg] = process.argv.slice(2) as [string, string, string, string];
const n = Number(nArg);
const app = await openKazari({ dataDir, keys: process.env.STRATA_KEYS! });
const tasks = taskCollection(app.store);

// Tasks of the other windows this one learnt of through watch: a remote put event, or a
// re-read after a `reset` (the watcher fell behind and is told to re-read).
const remoteTasks = new Set<string>();
const others = n * (Number(windowsArg) - 1);
let remoteSettings = 0;
let resets = 0;
let settle: () => void = () => {};
const done = new Promise<void>((resolve) => (settle = resolve));
const check = (): void => {
  if (remoteTasks.size >= others) settle();
};
const mine = (key: string): boolean => key.startsWith(`w${id}-`);
tasks.watch((change) => {
  if (change.type === 'reset') {
    resets++;
    void (async () => {
      for await (const t of tasks.iterate()) if (!mine(t.id)) remoteTasks.add(t.id);
      check();
    })();
    return;
  }
  if (change.type === 'put' && change.origin === 'remote' && !mine(change.key)) remoteTasks.add(change.key);
  check();
});
app.store.kv('settings').watch((change) => {
  if (change.origin === 'remote') remoteSettings++;
});

// Every window starts writing at the same moment: R, then wait for `go` on stdin.
process.stdout.write('R\n');
await new Promise<void>((resolve) => {
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.includes('go\n')) resolve();
  });
});
process.stdin.destroy();
for (let i = 0; i < n; i++) {
  await app.taskHistory.create({ id: `w${id}-${i}`, title: `task ${i} of window ${id}`, status: 'todo', priority: 'medium' });
  if (i % 5 === 0)
    await app.userSettings.update((current) => ({
      language: `lang-${id}-${i}`,
      tokens: { ...current.tokens, [`window${id}`]: `tok-${id}-${i}` },
    }));
}
const timer = setTimeout(settle, 20_000);
await done;
clearTimeout(timer);
const settings = await app.userSettings.getAll();
const seen = (await tasks.count()) as number;
process.stdout.write(
  `D ${JSON.stringify({ id, seen, remoteTasks: remoteTasks.size, remoteSettings, resets, tokens: settings.tokens })}\n`,
);
await app.close();
