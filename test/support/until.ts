/**
 * Polls `check` until it holds, failing after `ms`. Deadlines are generous on purpose: tests run on a busy
 * two-core machine, and they assert what happens, never how fast.
 */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
