/**
 * Runs `fn` with Ctrl-C ending the process by the signal itself (the shell reports 130, and
 * nothing is printed), not through the listener of main.ts. A listener runs only when the
 * event loop turns, and checking a sqlite store is synchronous inside SQLite (the storage
 * pass is one read transaction; the sqlite driver resolves as microtasks), so a listener
 * would wait for the whole check. Only for work that writes nothing and leaves nothing of
 * this process behind (a file: store's owner record is removed by an exit handler, which a
 * signal death does not run).
 */
export async function endedBySignal<T>(fn: () => Promise<T>): Promise<T> {
  const listeners = process.listeners('SIGINT');
  // With no listener left, Node restores the default action of SIGINT: the process ends at once.
  for (const listener of listeners) process.off('SIGINT', listener);
  try {
    return await fn();
  } finally {
    for (const listener of listeners) process.on('SIGINT', listener);
  }
}
