import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { loadUndici } from './undici-lazy.ts';
import { SkiffError, isSkiffError } from '../errors.ts';
import { readAllLimited } from '../oci/validate.ts';
import { redactText, redactUrl } from './redact.ts';
import { checkRedirect, sameOrigin, type RegistryScope } from './redirect-policy.ts';
import { retryKindOfCode, type RetryKind } from './retry.ts';
import { UNSAFE_ADDRESS_CODE } from './safe-lookup.ts';
import { bulkGet, type BulkConnect } from './bulk-get.ts';

/** Largest token or error body read (RC-05). */
export const MAX_SMALL_BODY = 1 << 20;

/** A response body: a byte stream; `dump` discards what is left (at most `limit` bytes read) and ends it. */
export type ResponseBody = Readable & { dump(opts?: { limit?: number }): Promise<unknown> };

/** A response whose body is a stream the caller must consume or destroy. */
export interface RawResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: ResponseBody;
  /** The URL that answered (after redirects). */
  url: URL;
  /** Credentials were available for this request (set by the registry client; shapes the 401/403 hint). */
  withCredentials?: boolean;
}

/** One HTTP exchange; redirects are followed by hand under the redirect policy. */
export interface RawRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array | Readable;
  dispatcher: Dispatcher;
  /** The registry the request is for: judges every redirect target (checkRedirect). */
  registry: RegistryScope;
  signal?: AbortSignal;
  headersTimeout?: number;
  bodyTimeout?: number;
  /**
   * A GET without a body whose response is large: each hop goes over a connection of its own whose body is
   * received in 1 MiB reads (bulkGet), with these connect settings; hops not framed by a Content-Length are sent
   * again through the dispatcher.
   */
  bulk?: BulkConnect;
  debug?: (line: string) => void;
}

/** Headers sent to another origin after a cross-origin redirect: everything else (credentials, cookies, custom auth) is dropped (RC-11). */
const CROSS_ORIGIN_SAFE = new Set(['accept', 'user-agent', 'range', 'accept-encoding', 'if-none-match']);

/** True for errors worth retrying on an idempotent request (connection trouble and timeouts; see retryPlan). */
export function isTransientError(e: unknown): boolean {
  return isSkiffError(e, 'EIO') && (e.details?.transient === true);
}

/** How a request error may be retried (networkError's `details.retry`); undefined for anything else. */
export function retryKindOf(e: unknown): RetryKind | undefined {
  if (!isTransientError(e)) return undefined;
  const k = (e as SkiffError).details?.retry;
  return k === 'quick' || k === 'never' ? k : 'backoff';
}

/** Maps an undici / socket error to a one-line SkiffError naming the redacted URL (never headers). */
export function networkError(e: unknown, method: string, url: URL, signal?: AbortSignal): SkiffError {
  if (isSkiffError(e)) return e;
  if (signal?.aborted) return new SkiffError('EABORT', 'operation cancelled', { cause: signal.reason });
  const err = e as { code?: string; message?: string; name?: string; errors?: { code?: string; message?: string }[] };
  // a connect to every address of a name fails as an AggregateError with an empty message: use the first cause
  const first = Array.isArray(err.errors) ? err.errors[0] : undefined;
  const code = err.code ?? first?.code;
  let why = err.message || first?.message || String(e);
  if (err.code === 'UND_ERR_HEADERS_TIMEOUT') why = 'timed out waiting for response headers';
  else if (err.code === 'UND_ERR_BODY_TIMEOUT') why = 'the response body stalled (timeout)';
  else if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED') why = 'request aborted';
  else if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') why = 'TLS handshake failed: the server does not speak TLS on this port';
  else if (code?.startsWith('ERR_SSL_')) why = `TLS handshake failed (${code})`;
  if (code === UNSAFE_ADDRESS_CODE) return new SkiffError('EUNSAFE', `${method} ${redactUrl(url)}: ${why}`, { details: { code } });
  const retry = retryKindOfCode(code);
  return new SkiffError('EIO', `${method} ${redactUrl(url)}: ${redactText(why).split('\n', 1)[0]}`, {
    details: { transient: retry !== 'never', retry, code },
    hint: networkHint(code, retry),
  });
}

function networkHint(code: string | undefined, retry: RetryKind): string {
  if (code === 'ENOTFOUND') return 'the registry host name does not resolve; check its spelling';
  if (code?.startsWith('ERR_SSL_')) return 'for a plain-HTTP registry pass --tls-verify=false';
  if (retry === 'never') {
    return 'the server certificate is not trusted: add its CA under --cert-dir (or /etc/containers/certs.d/HOST/), or pass --tls-verify=false for a registry you trust';
  }
  return 'check the network connection and the registry address; retry later';
}

function replayable(body: RawRequest['body']): boolean {
  return body === undefined || body instanceof Uint8Array;
}

/**
 * `pending`, or a rejection with the signal's reason as soon as the signal aborts. undici honours an abort only
 * once a connection is up, so a request still connecting (a TLS handshake nobody answers) would otherwise hold a
 * cancelled command for the whole connect timeout. A response that arrives after the abort is discarded.
 */
function settleOnAbort<T extends { body: { dump(): Promise<unknown> } }>(pending: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return pending;
  if (signal.aborted) {
    pending.then((r) => r.body.dump().catch(() => {}), () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      pending.then((r) => r.body.dump().catch(() => {}), () => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Sends one request and follows redirects (301/302/303/307/308) by hand: every hop passes checkRedirect
 * (no downgrade, no address the registry may not send the client to, ≤ 10 hops); after the first
 * cross-origin hop only non-credential headers are sent, for the rest of the chain. 303 (and 301/302 for
 * non-GET/HEAD) become GET. A stream body is never replayed: a body-preserving redirect of one is EIO.
 * Returns the final response with its body unread.
 */
export async function requestFollowing(req: RawRequest): Promise<RawResponse> {
  let url = req.url;
  let method: RawRequest['method'] = req.method;
  let headers: Record<string, string> = { ...(req.headers ?? {}) };
  let body = req.body;
  let stripped = false;
  for (let hop = 0; ; hop++) {
    let res: { statusCode: number; headers: IncomingHttpHeaders; body: ResponseBody } | undefined;
    try {
      if (req.bulk !== undefined && method === 'GET' && body === undefined) {
        res = await bulkGet(url, headers, { connect: req.bulk, signal: req.signal, headersTimeout: req.headersTimeout ?? 300_000, bodyTimeout: req.bodyTimeout ?? 300_000 });
        if (res === undefined) req.debug?.(`GET ${redactUrl(url)}: not framed by a Content-Length; sending it again`);
      }
      if (res === undefined) {
        const { request } = await loadUndici();
        res = await settleOnAbort(request(url, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          dispatcher: req.dispatcher,
          signal: req.signal,
          headersTimeout: req.headersTimeout,
          bodyTimeout: req.bodyTimeout,
        }), req.signal);
      }
    } catch (e) {
      throw networkError(e, method, url, req.signal);
    }
    req.debug?.(`${method} ${redactUrl(url)} -> ${res.statusCode}${'lend' in res.body ? ' (bulk: own connection)' : ''}`);
    const loc = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.statusCode) || loc === undefined) {
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, url };
    }
    await res.body.dump({ limit: MAX_SMALL_BODY }).catch(() => {});
    let next: URL;
    try {
      next = new URL(Array.isArray(loc) ? loc[0]! : loc, url);
    } catch {
      throw new SkiffError('EIO', `${method} ${redactUrl(url)}: the registry sent an invalid redirect location`);
    }
    checkRedirect(url, next, { registry: req.registry, hops: hop + 1 });
    if (!stripped && !sameOrigin(url, next)) {
      stripped = true;
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => CROSS_ORIGIN_SAFE.has(k.toLowerCase())));
    }
    if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method !== 'GET' && method !== 'HEAD')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      delete headers['content-type'];
      delete headers['content-length'];
    } else if (!replayable(body)) {
      throw new SkiffError('EIO', `${method} ${redactUrl(url)}: the registry redirected an upload whose body cannot be replayed`);
    }
    url = next;
  }
}

/** Reads a small body (token, error, tag page) under `max` bytes; ELIMIT beyond (RC-05). */
export async function readSmallBody(res: RawResponse, max: number, what: string, signal?: AbortSignal): Promise<Uint8Array> {
  try {
    return await readAllLimited(res.body, max, { what, signal });
  } catch (e) {
    throw networkError(e, 'GET', res.url, signal);
  }
}

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export { headerValue };

/** Most registry diagnostics kept from one error body. */
const MAX_DIAGNOSTICS = 16;

/**
 * The error for an unexpected status: reads the distribution-spec error body (≤ 1 MiB, RC-05) and builds a
 * one-line SkiffError naming `what` and every code/message the registry sent (`; `-separated, up to 16, as
 * go-containerregistry's transport error keeps them; also in `details.diagnostics`): 401/403 → EPERM with a login hint,
 * 404 → ENOTFOUND, 400 DIGEST_INVALID/SIZE_INVALID → EINTEGRITY, 405 → EUNSUPPORTED, 413 → ELIMIT, else EIO.
 */
export async function statusError(res: RawResponse, what: string, registry: string, signal?: AbortSignal): Promise<SkiffError> {
  const diagnostics: { code: string; message: string }[] = [];
  try {
    const bytes = await readAllLimited(res.body, MAX_SMALL_BODY, { what: 'error body', signal });
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    for (const x of Array.isArray(v.errors) ? v.errors.slice(0, MAX_DIAGNOSTICS) : []) {
      const d = { code: typeof x?.code === 'string' ? x.code : '', message: typeof x?.message === 'string' ? x.message : '' };
      if (d.code !== '' || d.message !== '') diagnostics.push(d);
    }
  } catch {
    res.body.destroy();
  }
  const one = (d: { code: string; message: string }) => redactText([d.code, d.message].filter((x) => x !== '').join(': ')).replace(/[\r\n\t]+/g, ' ').slice(0, 200);
  const detail = diagnostics.map(one).join('; ');
  const code = diagnostics[0]?.code ?? '';
  const codes = diagnostics.map((d) => d.code);
  const s = res.statusCode;
  const suffix = detail !== '' ? ` (${detail})` : '';
  const details = { status: s, registryCode: code, diagnostics: diagnostics.map((d) => ({ code: d.code, message: one({ code: '', message: d.message }) })) };
  if (s === 401 || s === 403) {
    const withCreds = res.withCredentials === true;
    return new SkiffError('EPERM', `${what}: ${s === 401 ? (withCreds ? 'authentication failed' : 'authentication required') : 'access denied'}${suffix}`, {
      details,
      hint: withCreds
        ? s === 401
          ? 'the registry refused the username and password (or token) given; check them'
          : 'the account given may not access this repository; check its permissions and the repository name'
        : `log in with "copy-tool login ${registry}" or pass --creds user:password`,
    });
  }
  if (s === 404) return new SkiffError('ENOTFOUND', `${what}: ${detail !== '' ? detail : 'not found'}`, { details });
  if (s === 400 && codes.some((c) => /DIGEST_INVALID|SIZE_INVALID/.test(c))) return new SkiffError('EINTEGRITY', `${what}: the registry rejected the content${suffix}`, { details });
  if (s === 405) return new SkiffError('EUNSUPPORTED', `${what}: the registry does not allow this operation${suffix}`, { details });
  if (s === 413) return new SkiffError('ELIMIT', `${what}: the registry says the content is too large${suffix}`, { details });
  return new SkiffError('EIO', `${what}: the registry answered ${s}${suffix}`, { details: { ...details, transient: s >= 500 || s === 429 } });
}
