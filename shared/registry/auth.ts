import type { Dispatcher } from 'undici';
import { SkiffError } from '../errors.ts';
import { MAX_SMALL_BODY, headerValue, readSmallBody, requestFollowing, statusError } from './http.ts';
import { redactUrl } from './redact.ts';
import { sameAuthority } from './host-class.ts';
import { checkRedirect, type RegistryScope } from './redirect-policy.ts';
import type { Credentials } from './types.ts';

/** One parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string; // lower-case: "bearer", "basic"
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header into challenges (RFC 7235): `Bearer realm="…",service="…",scope="…"`,
 * `Basic realm="…"`; quoted strings with backslash escapes; several challenges separated by commas. Pure.
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : header === undefined ? [] : [header]) {
    let i = 0;
    const n = h.length;
    let cur: Challenge | undefined;
    while (i < n) {
      while (i < n && (h[i] === ' ' || h[i] === ',' || h[i] === '\t')) i++;
      const m = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(h.slice(i));
      if (!m) break;
      const token = m[0];
      i += token.length;
      let j = i;
      while (j < n && (h[j] === ' ' || h[j] === '\t')) j++;
      if (h[j] === '=' && cur) {
        j++;
        while (j < n && (h[j] === ' ' || h[j] === '\t')) j++;
        let value = '';
        if (h[j] === '"') {
          j++;
          while (j < n && h[j] !== '"') {
            if (h[j] === '\\' && j + 1 < n) j++;
            value += h[j];
            j++;
          }
          j++;
        } else {
          while (j < n && h[j] !== ',' && h[j] !== ' ') value += h[j++];
        }
        cur.params[token.toLowerCase()] = value;
        i = j;
      } else {
        cur = { scheme: token.toLowerCase(), params: {} };
        out.push(cur);
      }
    }
  }
  return out;
}

/** `repository:<name>:<actions>` scope strings, merged so each resource appears once with the union of actions. */
export function mergeScopes(scopes: readonly string[]): string[] {
  const m = new Map<string, Set<string>>();
  for (const s of scopes) {
    const i = s.lastIndexOf(':');
    if (i <= 0) continue;
    const res = s.slice(0, i);
    const acts = m.get(res) ?? new Set<string>();
    for (const a of s.slice(i + 1).split(',')) if (a !== '') acts.add(a);
    m.set(res, acts);
  }
  return [...m.entries()].map(([r, a]) => `${r}:${[...a].sort().join(',')}`).sort();
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** What the authenticator needs from its client. */
export interface AuthContext {
  registry: string;
  dispatcher: Dispatcher;
  /** The registry as the address policy sees it; judges the realm and its redirects. */
  scope: RegistryScope;
  /** The registry's base URL (scheme decided by the ping); the realm must not downgrade from it. */
  base: URL;
  credentials: () => Promise<Credentials | undefined>;
  /** Credentials the user configured for another host (a realm not under the registry's authority), if any. */
  credentialsFor?: (host: string) => Promise<Credentials | undefined>;
  userAgent: string;
  headersTimeout?: number;
  bodyTimeout?: number;
  debug?: (line: string) => void;
}

/**
 * Produces Authorization headers for a registry from its challenge: Basic with the credentials, or a Bearer
 * token fetched from the realm (GET with Basic credentials or anonymously; POST with a refresh token when
 * the username is `<token>`), cached per scope set until shortly before it expires. Tokens and credentials
 * never appear in messages or debug lines (RC-19).
 */
export class Authenticator {
  readonly ctx: AuthContext;
  challenge: Challenge | undefined;
  #tokens = new Map<string, CachedToken>();
  #inflight = new Map<string, Promise<CachedToken>>();

  constructor(ctx: AuthContext) {
    this.ctx = ctx;
  }

  /** Records the challenge of a 401 (the first Bearer, else Basic, challenge). Returns it. */
  setChallenge(header: string | string[] | undefined): Challenge | undefined {
    const all = parseWwwAuthenticate(header);
    const c = all.find((x) => x.scheme === 'bearer') ?? all.find((x) => x.scheme === 'basic');
    if (c) this.challenge = c;
    return c;
  }

  /** Forgets the cached token of a scope set (after the registry rejected it). */
  invalidate(scopes: readonly string[]): void {
    this.#tokens.delete(mergeScopes(scopes).join(' '));
  }

  /** The Authorization header for a request needing `scopes`, or undefined (anonymous / no challenge). */
  async header(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    const c = this.challenge;
    if (c === undefined) return undefined;
    if (c.scheme === 'basic') {
      const creds = await this.ctx.credentials();
      if (creds === undefined || creds.username === '<token>') return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (c.scheme !== 'bearer') return undefined;
    const merged = mergeScopes(scopes);
    const key = merged.join(' ');
    const hit = this.#tokens.get(key);
    if (hit && hit.expiresAt > Date.now()) return `Bearer ${hit.token}`;
    let p = this.#inflight.get(key);
    if (p === undefined) {
      p = this.#fetchToken(c, merged, signal).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    const t = await p;
    this.#tokens.set(key, t);
    return `Bearer ${t.token}`;
  }

  /**
   * The credentials sent to a token realm: the registry's own when the realm is under the registry's authority
   * (sameAuthority), else only what the user configured for the realm's host — never the registry's.
   */
  async #realmCredentials(realm: URL): Promise<Credentials | undefined> {
    if (sameAuthority(realm.host, { name: this.ctx.registry, apiHost: this.ctx.base.host })) return this.ctx.credentials();
    const own = await this.ctx.credentialsFor?.(realm.host);
    this.ctx.debug?.(`token realm ${redactUrl(realm.origin)} is not ${this.ctx.registry}: ${own ? 'using the credentials configured for it' : 'asking anonymously'}`);
    return own;
  }

  async #fetchToken(c: Challenge, scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const realmStr = c.params.realm;
    if (!realmStr) throw new SkiffError('EIO', `${this.ctx.registry}: the registry's Bearer challenge has no realm`);
    let realm: URL;
    try {
      realm = new URL(realmStr);
    } catch {
      throw new SkiffError('EIO', `${this.ctx.registry}: the registry's token realm is not a valid URL`);
    }
    checkRedirect(this.ctx.base, realm, { registry: this.ctx.scope });
    const creds = await this.#realmCredentials(realm);
    const service = c.params.service;
    const headers: Record<string, string> = { 'user-agent': this.ctx.userAgent, accept: 'application/json' };
    let method: 'GET' | 'POST' = 'GET';
    let body: Uint8Array | undefined;
    const url = new URL(realm);
    if (creds?.username === '<token>') {
      method = 'POST';
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', creds.password);
      form.set('client_id', 'skiff');
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds) {
        url.searchParams.set('account', creds.username);
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
    }
    const res = await requestFollowing({
      method,
      url,
      headers,
      ...(body ? { body } : {}),
      dispatcher: this.ctx.dispatcher,
      registry: this.ctx.scope,
      signal,
      headersTimeout: this.ctx.headersTimeout,
      bodyTimeout: this.ctx.bodyTimeout,
      debug: this.ctx.debug,
    });
    if (res.statusCode !== 200) {
      const e = await statusError(res, `getting a token for ${this.ctx.registry} from ${redactUrl(realm.origin)}`, this.ctx.registry, signal);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new SkiffError('EPERM', `authentication to ${this.ctx.registry} failed: ${creds ? 'invalid username/password' : 'anonymous access refused'}`, {
          hint: creds ? 'check the username and password (or token) used for this registry' : `log in with "copy-tool login ${this.ctx.registry}" or pass --creds user:password`,
          details: e.details,
        });
      }
      throw e;
    }
    const bytes = await readSmallBody(res, MAX_SMALL_BODY, 'token response', signal);
    let v: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      v = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof v;
    } catch {
      throw new SkiffError('EIO', `${this.ctx.registry}: the token server sent invalid JSON`);
    }
    const token = typeof v.token === 'string' && v.token !== '' ? v.token : typeof v.access_token === 'string' ? v.access_token : '';
    if (token === '' || /[\s\r\n]/.test(token)) throw new SkiffError('EIO', `${this.ctx.registry}: the token server sent no usable token`);
    const expiresIn = typeof v.expires_in === 'number' && v.expires_in > 0 ? v.expires_in : 60;
    this.ctx.debug?.(`token for ${this.ctx.registry} scopes=[${scopes.join(' ')}] expires in ${expiresIn}s`);
    return { token, expiresAt: Date.now() + Math.max(1, expiresIn - 10) * 1000 };
  }
}

export { headerValue };
