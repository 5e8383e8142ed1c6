// The event-loop probe of the tests that hold a long operation to "never stalls the loop".

/** The longest gap between ticks of a 5 ms interval while `work` runs (ms). */
export async function longestPause(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
  }, 5);
  try {
    await work();
    await new Promise((r) => setTimeout(r, 20)); // let the ticker see the end of a pause
  } finally {
    clearInterval(tick);
  }
  return longest;
}
