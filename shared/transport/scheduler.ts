import { throwIfAborted } from '../errors.ts';

/**
 * Bounded, de-duplicating job runner shared by concurrent copies (copy, sync). At most `parallel` jobs run at
 * once across every caller. Jobs with the same key (blob scope + digest) that overlap in time run once: later
 * callers wait for the running job and get `{ shared: true }`; if it fails, each waiter runs its own attempt
 * (a failure of one copy never fails another). Waiting for a slot or a shared job holds no slot.
 */
export class BlobScheduler {
  readonly parallel: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(parallel = 6) {
    this.parallel = Math.max(1, Math.floor(parallel));
  }

  /** Runs `fn` within the concurrency bound, without de-duplication. */
  async limit<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    throwIfAborted(signal);
    if (this.#running >= this.parallel) await new Promise<void>((r) => this.#queue.push(r));
    else this.#running++;
    try {
      throwIfAborted(signal);
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /**
   * Runs `fn` for `key` unless a job with that key is running, in which case it waits for that job instead.
   * Resolves `{ value, shared }`: shared is true when another caller's job did the work.
   */
  async run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<{ value: T | undefined; shared: boolean }> {
    for (;;) {
      const running = this.#inflight.get(key);
      if (!running) break;
      try {
        await running;
        return { value: undefined, shared: true };
      } catch {
        throwIfAborted(signal);
        // the other attempt failed: try again (ours may start now, or wait for another waiter's retry)
      }
    }
    const p = this.limit(fn, signal);
    this.#inflight.set(key, p);
    try {
      return { value: await p, shared: false };
    } finally {
      if (this.#inflight.get(key) === p) this.#inflight.delete(key);
    }
  }
}
