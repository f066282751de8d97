/**
 * Bounded concurrency for many small filesystem operations (lstat, copy, chown of thousands of files): awaiting
 * them one by one leaves the process idle on the libuv thread pool's round trips; a few dozen in flight keep it
 * busy. Results keep their input order; the first failure rejects (the others still settle before it does).
 */

/** Runs `fn` over `items` with at most `limit` calls in flight; resolves with the results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
  return out;
}

/**
 * A queue of independent tasks with at most `limit` running; `drain()` waits for all of them and rethrows the
 * first failure. Callers order dependent work themselves (e.g. create a directory, then queue its files).
 */
export class TaskPool {
  #running = new Set<Promise<void>>();
  #error: { error: unknown } | undefined;
  constructor(readonly limit: number) {}

  /** Queues `task`; waits first while `limit` tasks run. Throws an earlier task's failure. */
  async add(task: () => Promise<void>): Promise<void> {
    if (this.#error) throw this.#error.error;
    while (this.#running.size >= this.limit) await Promise.race(this.#running);
    const p: Promise<void> = task()
      .catch((error: unknown) => {
        this.#error ??= { error };
      })
      .finally(() => this.#running.delete(p));
    this.#running.add(p);
  }

  /** Waits for every queued task; rethrows the first failure. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
    if (this.#error) throw this.#error.error;
  }
}
