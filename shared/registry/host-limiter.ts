import { setTimeout as delay } from 'node:timers/promises';
import { throwIfAborted } from '../errors.ts';

/** Default number of requests in flight (until response headers) per registry host (RC-20). */
export const DEFAULT_HOST_CONCURRENCY = 6;

/**
 * Bounds the requests in flight to one host and holds a shared backoff deadline: when any request to the
 * host is told to slow down (429, 503 + Retry-After), every later request to that host waits until the
 * deadline (regclient's per-host backoff). In-process only; one instance per host (see hostLimiter()).
 */
export class HostLimiter {
  readonly limit: number;
  #active = 0;
  #queue: (() => void)[] = [];
  #backoffUntil = 0;
  /** Highest number of simultaneously held slots seen (for tests and debug). */
  peak = 0;

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  /** Waits for the shared backoff and a free slot; returns the release function (idempotent). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      const wait = this.#backoffUntil - Date.now();
      if (wait > 0) {
        try {
          await delay(wait, undefined, signal ? { signal } : {});
        } catch {
          throwIfAborted(signal);
        }
      }
      if (this.#active < this.limit) break;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.#queue.indexOf(wake);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal?.reason);
        };
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#queue.push(wake);
      });
      // re-check backoff and capacity after waking
    }
    this.#active++;
    this.peak = Math.max(this.peak, this.#active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#queue.shift()?.();
    };
  }

  /** Makes every request to this host wait at least `ms` from now (extends, never shortens). */
  backoff(ms: number): void {
    this.#backoffUntil = Math.max(this.#backoffUntil, Date.now() + ms);
  }

  /** Milliseconds until the shared backoff ends (0 when none). */
  get backoffRemaining(): number {
    return Math.max(0, this.#backoffUntil - Date.now());
  }
}

const limiters = new Map<string, HostLimiter>();

/** The process-wide limiter of a host (`host[:port]`), created with `limit` on first use. */
export function hostLimiter(host: string, limit = DEFAULT_HOST_CONCURRENCY): HostLimiter {
  const key = `${host.toLowerCase()}#${limit}`;
  let l = limiters.get(key);
  if (l === undefined) {
    l = new HostLimiter(limit);
    limiters.set(key, l);
  }
  return l;
}
