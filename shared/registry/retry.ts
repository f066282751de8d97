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

/** A retry about to happen, for the caller to report (copy-tool prints it on stderr, as skopeo warns). */
export interface RetryNotice {
  /** What failed: the request and why (redacted), one line. */
  error: string;
  /** This retry's number (1-based) and the most this failure can get. */
  attempt: number;
  of: number;
  delayMs: number;
}

/** Failures that heal slowly or not at all for a refused or unresolvable endpoint: one quick retry at most. */
const QUICK_ONCE = new Set(['ECONNREFUSED', 'EAI_AGAIN']);
/** The wait before that one retry (ms). */
export const QUICK_RETRY_MS = 150;

/**
 * How a failed request may be retried: undefined for never, else the wait and the most retries this kind of
 * failure gets. `kind` is the failure's class from networkError/statusError (`details.retry`):
 * - `never` (TLS verification or handshake, a name that does not resolve, 401/403, 4xx): it fails the same way again;
 * - `quick` (ECONNREFUSED, EAI_AGAIN): one retry after QUICK_RETRY_MS — a port that refuses is rarely about to
 *   open, so the whole wait stays under half a second;
 * - `backoff` (resets, timeouts, 5xx, 429): up to `retryTimes` retries with capped exponential backoff.
 * skopeo 1.9 (containers/common `retry.RetryIfNecessary`) retries only with `--retry-times` (default 0), waiting
 * 1 s, 2 s, 4 s … for any network errno including ECONNREFUSED, and says each retry at warning level; skiff keeps
 * a default of 3 for failures that heal, answers a refused connection in about the time skopeo does, and also
 * says each retry (attempt n/N and the wait). Pure, but for the jitter.
 */
export function retryPlan(kind: RetryKind | undefined, done: number, o: { retryTimes: number; baseMs: number; capMs: number }): { delayMs: number; of: number } | undefined {
  if (kind === undefined || kind === 'never') return undefined;
  const of = kind === 'quick' ? Math.min(1, o.retryTimes) : o.retryTimes;
  if (done >= of) return undefined;
  return { delayMs: kind === 'quick' ? QUICK_RETRY_MS : backoffDelay(done, o.baseMs, o.capMs), of };
}

/** How a failure may be retried (see retryPlan). */
export type RetryKind = 'never' | 'quick' | 'backoff';

/** The retry kind of a socket / TLS / DNS error code (undici or Node). */
export function retryKindOfCode(code: string | undefined): RetryKind {
  if (code === undefined) return 'backoff';
  if (code === 'ENOTFOUND' || /CERT|SELF_SIGNED|UNABLE_TO_(?:VERIFY|GET)|ALTNAME|HOSTNAME_MISMATCH|INVALID_CA/.test(code)) return 'never';
  // a TLS handshake the server cannot do (plain HTTP on the port, no common protocol or cipher) fails the same way again
  if (code.startsWith('ERR_SSL_') && !/BAD_RECORD_MAC|DECRYPTION_FAILED/.test(code)) return 'never';
  if (QUICK_ONCE.has(code)) return 'quick';
  return 'backoff';
}
