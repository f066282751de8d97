import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { SkiffError, isSkiffError, throwIfAborted } from '../errors.ts';
import { Authenticator } from './auth.ts';
import { headerValue, isTransientError, requestFollowing, retryKindOf, type RawRequest, type RawResponse } from './http.ts';
import { hostLimiter, type HostLimiter } from './host-limiter.ts';
import { redactUrl } from './redact.ts';
import type { PlainHttpMemory } from './plain-http-memory.ts';
import type { BulkConnect } from './bulk-get.ts';
import { registryScope, sameOrigin, type RegistryScope } from './redirect-policy.ts';
import { backoffDelay, parseRetryAfter, retryPlan, type RetryNotice } from './retry.ts';
import type { Credentials } from './types.ts';

/** Fully resolved settings of one registry endpoint. */
export interface ClientSettings {
  registry: string;
  /** host[:port] actually contacted (registry-1.docker.io for docker.io). */
  apiHost: string;
  dispatcher: Dispatcher;
  /** How bulk GETs connect (SendRequest.bulk); undefined sends them through `dispatcher` too. */
  bulkConnect?: BulkConnect;
  /** Plain HTTP allowed after https fails (tlsVerify false / insecure registry). */
  allowHttp: boolean;
  /**
   * Which hosts answered over plain HTTP before (consulted only when `allowHttp`): such a host is pinged over
   * http first, once, and forgotten when that fails.
   */
  plainHttpMemory?: PlainHttpMemory;
  credentials: () => Promise<Credentials | undefined>;
  /** Credentials the user configured for another host (a token realm outside the registry's authority). */
  credentialsFor?: (host: string) => Promise<Credentials | undefined>;
  userAgent: string;
  retryTimes: number;
  retryBaseMs: number;
  retryMaxDelayMs: number;
  retryAfterCapMs: number;
  max429Attempts: number;
  maxConcurrentPerHost: number;
  headersTimeout: number;
  bodyTimeout: number;
  debug?: (line: string) => void;
  /** Told of every retry before its wait (the CLI prints it on stderr). */
  onRetry?: (n: RetryNotice) => void;
}

/** One request through the client. */
export interface SendRequest {
  method: RawRequest['method'];
  /** A path under the registry base (`/v2/…`) or an absolute URL (upload locations, pages). */
  path: string | URL;
  headers?: Record<string, string>;
  body?: Uint8Array | Readable;
  /** Token scopes the request needs. */
  scopes: string[];
  signal?: AbortSignal;
  /** A large GET: received over a connection of its own in big reads when the client has bulkConnect. */
  bulk?: boolean;
}

const RETRY_METHODS = new Set(['GET', 'HEAD']);

/** The outcome of a request sent beside the ping: exactly one of a response and the error it failed with. */
type EarlyAttempt = { res: RawResponse } | { err: unknown };

/** A `/v2/` answer that identifies a registry (containers/image accepts only these from a ping). */
function isRegistryPing(status: number): boolean {
  return status === 200 || status === 401;
}

/** The error of a `/v2/` ping that did not answer 200 or 401: whatever answered is not a registry API. */
function notARegistry(registry: string, url: URL, status: number): SkiffError {
  return new SkiffError('EINVALID', `cannot use ${registry} as a registry: GET ${redactUrl(url)} answered ${status} (a registry answers 200 or 401)`, {
    hint: 'check the registry address and port',
    details: { status },
  });
}

/** Drops a speculative response (or its failure) that will not be used. */
async function discard(p: Promise<RawResponse>): Promise<void> {
  const res = await p.catch(() => undefined);
  await res?.body.dump({ limit: 1 << 20 }).catch(() => {});
}

function isReplayable(body: SendRequest['body']): boolean {
  return body === undefined || body instanceof Uint8Array;
}

/**
 * The HTTP side of one registry: decides https vs http once (ping of `/v2/`, https first, http only when
 * allowed — a host the plain-HTTP memory names, http first), authenticates (Basic / Bearer with one re-auth or scope-upgrade retry per request), bounds
 * concurrency per host and shares the host's backoff, retries GET/HEAD on 429/5xx/transient errors with capped
 * exponential backoff + jitter honouring Retry-After (RC-09/RC-10/RC-20). Other methods are retried only on
 * 429 and only with a replayable body. The returned body must be consumed or destroyed by the caller.
 */
export class RegistryClient {
  readonly s: ClientSettings;
  readonly limiter: HostLimiter;
  /** The registry as the address policy sees it (its API host's class, insecure or not). */
  readonly scope: RegistryScope;
  #base: Promise<URL> | undefined;
  #auth: Authenticator | undefined;

  constructor(s: ClientSettings) {
    this.s = s;
    this.limiter = hostLimiter(s.apiHost, s.maxConcurrentPerHost);
    this.scope = registryScope(s.apiHost, s.allowHttp);
  }

  /**
   * The base URL (`https://host/` or `http://host/`), decided by the first ping; memoised. A failed ping is
   * forgotten once a caller has seen its error (so a ping started early by warm() fails its first user, once).
   */
  base(signal?: AbortSignal): Promise<URL> {
    this.#base ??= this.#ping(signal);
    const p = this.#base;
    return p.catch((e: unknown) => {
      if (this.#base === p) this.#base = undefined;
      throw e;
    });
  }

  /** Starts the ping now, without waiting for it (its outcome is what the first request gets). */
  warm(signal?: AbortSignal): void {
    if (this.#base !== undefined) return;
    this.#base = this.#ping(signal);
    this.#base.catch(() => {});
  }

  /**
   * Where a request can go before the ping has answered: the http base of a host the plain-HTTP memory names;
   * undefined otherwise. Not https: a second connection beside the ping's would cost a second TLS handshake
   * (and a certificate failure would be met twice), more than the round trip it saves on a near registry.
   */
  async #predictedBase(): Promise<URL | undefined> {
    if (!this.s.allowHttp) return undefined;
    const memory = this.s.plainHttpMemory;
    return memory && (await memory.has(this.s.apiHost)) ? new URL(`http://${this.s.apiHost}/`) : undefined;
  }

  /**
   * A GET/HEAD sent beside the ping, while nothing is known yet, by a client without credentials, to the
   * predicted base. Its outcome, a response or an error, is the request's first attempt (a 401 then
   * authenticates, a 5xx or a network error is retried, a refused redirect fails, as usual) when the ping chose
   * that base; otherwise it is discarded and the request sent after the ping.
   */
  async #speculate(req: SendRequest): Promise<EarlyAttempt | undefined> {
    const guess = await this.#predictedBase();
    // with credentials the request would be sent again, authenticated, after the ping: nothing to gain
    if (guess === undefined || (await this.s.credentials()) !== undefined) return undefined;
    const url = new URL(req.path as string, guess);
    const early = (async () => {
      const release = await this.limiter.acquire(req.signal);
      try {
        return await this.#attempt(req, url, { 'user-agent': this.s.userAgent, ...(req.headers ?? {}) });
      } finally {
        release();
      }
    })();
    early.catch(() => {});
    const base = await this.base(req.signal).catch(async (e: unknown) => {
      await discard(early);
      throw e;
    });
    if (base.href !== guess.href) {
      await discard(early);
      return undefined;
    }
    const attempt = await early.then((res): EarlyAttempt => ({ res }), (err: unknown): EarlyAttempt => ({ err }));
    if ('res' in attempt && !sameOrigin(attempt.res.url, base)) {
      await attempt.res.body.dump({ limit: 1 << 20 }).catch(() => {});
      return undefined;
    }
    return attempt;
  }

  /** One attempt of `req` at `url` with `headers` (redirects followed as requestFollowing allows): no retry, no auth. */
  #attempt(req: SendRequest, url: URL, headers: Record<string, string>): Promise<RawResponse> {
    return requestFollowing({
      method: req.method,
      url,
      headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      dispatcher: this.s.dispatcher,
      ...(req.bulk === true && this.s.bulkConnect !== undefined ? { bulk: this.s.bulkConnect } : {}),
      registry: this.scope,
      headersTimeout: this.s.headersTimeout,
      bodyTimeout: this.s.bodyTimeout,
      signal: req.signal,
      debug: this.s.debug,
    });
  }

  get authenticator(): Authenticator | undefined {
    return this.#auth;
  }

  async #pingOne(url: URL, signal?: AbortSignal): Promise<RawResponse> {
    const release = await this.limiter.acquire(signal);
    try {
      return await requestFollowing({
        method: 'GET',
        url,
        headers: { 'user-agent': this.s.userAgent },
        dispatcher: this.s.dispatcher,
        registry: this.scope,
        headersTimeout: this.s.headersTimeout,
        bodyTimeout: this.s.bodyTimeout,
        signal,
        debug: this.s.debug,
      });
    } finally {
      release();
    }
  }

  async #ping(signal?: AbortSignal): Promise<URL> {
    const memory = this.s.allowHttp ? this.s.plainHttpMemory : undefined;
    if (memory && (await memory.has(this.s.apiHost))) {
      const base = await this.#pingRemembered(signal);
      if (base) return base;
      await memory.forget(this.s.apiHost);
    }
    const schemes = this.s.allowHttp ? ['https', 'http'] : ['https'];
    let lastErr: unknown;
    let httpsFailed = false;
    let notRegistry: SkiffError | undefined;
    for (const scheme of schemes) {
      const base = new URL(`${scheme}://${this.s.apiHost}/`);
      let res: RawResponse | undefined;
      for (let done = 0; res === undefined; ) {
        try {
          res = await this.#pingOne(new URL('/v2/', base), signal);
          const plan = res.statusCode >= 500 ? this.#plan('backoff', done) : undefined;
          if (plan) {
            await res.body.dump().catch(() => {});
            this.#notify(`GET ${new URL('/v2/', base).href}: the registry answered ${res.statusCode}`, ++done, plan);
            res = undefined;
            await this.#wait(plan.delayMs, signal);
          }
        } catch (e) {
          lastErr = e;
          if (!isSkiffError(e, 'EIO')) throw e;
          // a TLS handshake against a plain-HTTP port fails at once; don't spend retries before trying http
          if (scheme === 'https' && this.s.allowHttp && isTransientError(e)) break;
          const plan = this.#plan(retryKindOf(e), done);
          if (!plan) break;
          this.#notify((e as Error).message, ++done, plan);
          await this.#wait(plan.delayMs, signal);
        }
      }
      if (res === undefined) {
        httpsFailed = scheme === 'https';
        continue;
      }
      if (!isRegistryPing(res.statusCode)) {
        // as containers/image: only 200 or 401 identify a registry; anything else is an error (after https, http)
        await res.body.dump({ limit: 1 << 20 }).catch(() => {});
        lastErr = notRegistry = notARegistry(this.s.registry, new URL('/v2/', base), res.statusCode);
        httpsFailed = scheme === 'https';
        continue;
      }
      if (memory && scheme === 'http' && httpsFailed) await memory.remember(this.s.apiHost);
      return this.#accept(base, res);
    }
    if (notRegistry !== undefined && lastErr === notRegistry) throw lastErr;
    if (isSkiffError(lastErr)) {
      throw new SkiffError('EIO', `cannot reach registry ${this.s.registry}: ${lastErr.message}`, {
        cause: lastErr,
        hint:
          lastErr.details?.retry === 'never' && lastErr.hint !== undefined
            ? lastErr.hint
            : this.s.allowHttp
              ? 'check the registry address and that it is running'
              : 'check the registry address; for a plain-HTTP registry pass --tls-verify=false',
        details: lastErr.details ?? {},
      });
    }
    throw lastErr;
  }

  /**
   * The one plain-HTTP ping of a host the memory says speaks http: its base when the registry answers as one
   * (200 or 401, as containers/image requires of a ping), else undefined (no retries; the caller forgets the
   * host and probes https first).
   */
  async #pingRemembered(signal?: AbortSignal): Promise<URL | undefined> {
    const base = new URL(`http://${this.s.apiHost}/`);
    let res: RawResponse;
    try {
      res = await this.#pingOne(new URL('/v2/', base), signal);
    } catch (e) {
      if (isSkiffError(e, 'EIO') || isSkiffError(e, 'EUNSAFE')) {
        this.s.debug?.(`plain http remembered for ${this.s.apiHost} but the ping failed (${(e as Error).message}); probing https first`);
        return undefined;
      }
      throw e;
    }
    if (isRegistryPing(res.statusCode)) return this.#accept(base, res);
    await res.body.dump({ limit: 1 << 20 }).catch(() => {});
    this.s.debug?.(`plain http remembered for ${this.s.apiHost} but the ping answered ${res.statusCode}; probing https first`);
    return undefined;
  }

  /** Takes `base` as the registry's: reads the ping's body away and sets up authentication from its challenge. */
  async #accept(base: URL, res: RawResponse): Promise<URL> {
    await res.body.dump({ limit: 1 << 20 }).catch(() => {});
    this.#auth = new Authenticator({
      registry: this.s.registry,
      dispatcher: this.s.dispatcher,
      scope: this.scope,
      base,
      credentials: this.s.credentials,
      ...(this.s.credentialsFor ? { credentialsFor: this.s.credentialsFor } : {}),
      userAgent: this.s.userAgent,
      headersTimeout: this.s.headersTimeout,
      bodyTimeout: this.s.bodyTimeout,
      debug: this.s.debug,
    });
    if (res.statusCode === 401) this.#auth.setChallenge(res.headers['www-authenticate']);
    return base;
  }

  /**
   * Sends a request with auth, retries and the host limiter (held until response headers arrive). Returns the
   * final response for the caller to interpret; 401/403 after the one re-auth attempt are returned as is.
   */
  async send(req: SendRequest): Promise<RawResponse> {
    // the first request of an anonymous client: sent beside the ping rather than after it (one round trip less);
    // its answer is this request's first attempt
    let early: EarlyAttempt | undefined;
    if (this.#auth === undefined && req.body === undefined && RETRY_METHODS.has(req.method) && typeof req.path === 'string') early = await this.#speculate(req);
    const base = await this.base(req.signal);
    const auth = this.#auth!;
    const url = typeof req.path === 'string' ? new URL(req.path, base) : req.path;
    const idempotent = RETRY_METHODS.has(req.method);
    let scopes = req.scopes;
    let reauthed = false;
    let n429 = 0;
    let nFail = 0;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(req.signal);
      const headers: Record<string, string> = { 'user-agent': this.s.userAgent, ...(req.headers ?? {}) };
      if (sameOrigin(url, base) && early === undefined) {
        const h = await auth.header(scopes, req.signal);
        if (h !== undefined) headers.authorization = h;
      }
      let res: RawResponse;
      const release = early !== undefined ? () => {} : await this.limiter.acquire(req.signal).catch((e: unknown) => {
        throw new SkiffError('EABORT', 'operation cancelled', { cause: e });
      });
      try {
        if (early !== undefined) {
          const first = early;
          early = undefined;
          if ('err' in first) throw first.err; // handled as this attempt's failure, below
          res = first.res;
        } else {
          res = await this.#attempt(req, url, headers);
        }
      } catch (e) {
        release();
        const plan = idempotent ? this.#plan(retryKindOf(e), nFail) : undefined;
        if (plan) {
          this.#notify((e as Error).message, ++nFail, plan);
          await this.#wait(plan.delayMs, req.signal);
          continue;
        }
        throw e;
      }
      release();
      const st = res.statusCode;
      if (st === 401 && !reauthed && sameOrigin(res.url, base)) {
        const c = auth.setChallenge(res.headers['www-authenticate']);
        const creds = c ? await this.s.credentials() : undefined;
        const hadAuth = headers.authorization !== undefined;
        // retry once: a first challenge, an expired/invalid token, or a scope upgrade (RC-19)
        if (c && (c.scheme === 'bearer' || (creds && !hadAuth)) && isReplayable(req.body)) {
          reauthed = true;
          if (c.params.error === 'insufficient_scope' && c.params.scope) scopes = [...scopes, ...c.params.scope.split(' ')];
          else auth.invalidate(scopes);
          await res.body.dump({ limit: 1 << 20 }).catch(() => {});
          continue;
        }
      }
      const retryable429 = st === 429 && isReplayable(req.body) && n429 < this.s.max429Attempts - 1;
      const retryable5xx = st >= 500 && idempotent && nFail < this.s.retryTimes;
      if (st === 429 || st === 503) {
        const ra = parseRetryAfter(headerValue(res.headers, 'retry-after'), Date.now(), this.s.retryAfterCapMs);
        const delay = ra ?? backoffDelay(st === 429 ? n429 : nFail, this.s.retryBaseMs, this.s.retryMaxDelayMs);
        this.limiter.backoff(delay);
        if (retryable429 || (st === 503 && retryable5xx)) {
          if (st === 429) n429++;
          else nFail++;
          this.#notify(`${req.method} ${redactUrl(url)}: the registry answered ${st}`, st === 429 ? n429 : nFail, { delayMs: delay, of: st === 429 ? this.s.max429Attempts - 1 : this.s.retryTimes });
          await res.body.dump({ limit: 1 << 20 }).catch(() => {});
          await this.#wait(0, req.signal);
          continue;
        }
      } else if (retryable5xx) {
        const delay = backoffDelay(nFail++, this.s.retryBaseMs, this.s.retryMaxDelayMs);
        this.#notify(`${req.method} ${redactUrl(url)}: the registry answered ${st}`, nFail, { delayMs: delay, of: this.s.retryTimes });
        await res.body.dump({ limit: 1 << 20 }).catch(() => {});
        await this.#wait(delay, req.signal);
        continue;
      }
      if (st === 401 || st === 403) res.withCredentials = (await this.s.credentials()) !== undefined;
      return res;
    }
  }

  /** The retry plan for a failure of `kind` after `done` retries (retryPlan with this client's settings). */
  #plan(kind: Parameters<typeof retryPlan>[0], done: number): { delayMs: number; of: number } | undefined {
    return retryPlan(kind, done, { retryTimes: this.s.retryTimes, baseMs: this.s.retryBaseMs, capMs: this.s.retryMaxDelayMs });
  }

  /** Reports a retry (onRetry, and the debug log). */
  #notify(error: string, attempt: number, plan: { delayMs: number; of: number }): void {
    const n: RetryNotice = { error, attempt, of: plan.of, delayMs: plan.delayMs };
    this.s.debug?.(`${error}; retrying in ${plan.delayMs} ms (${attempt}/${plan.of})`);
    this.s.onRetry?.(n);
  }

  async #wait(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      const total = Math.max(ms, this.limiter.backoffRemaining);
      if (total > 0) await delay(total, undefined, signal ? { signal } : {});
    } catch (e) {
      throw new SkiffError('EABORT', 'operation cancelled', { cause: e });
    }
  }
}
