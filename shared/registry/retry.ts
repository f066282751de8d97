/** The cap on any wait derived from a server's Retry-After header (ms). */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Parses a Retry-After header: delta-seconds or an HTTP date. Returns the wait in ms, capped at `capMs`
 * (default 60 s), 0 for dates in the past, undefined when absent or unparseable (RC-09). Pure.
 */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now(), capMs = MAX_RETRY_AFTER_MS): number | undefined {
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  if (s === undefined || s === '') return undefined;
  if (/^\d+$/.test(s)) return Math.min(Number(s) * 1000, capMs);
  if (!/[a-z]/i.test(s)) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.min(t - now, capMs));
}

/** Capped exponential backoff with full jitter: a random wait in [base·2^attempt / 2, base·2^attempt], ≤ cap. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Resolves after `ms`, or rejects with the signal's reason (as EABORT by the caller) when aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
