import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { SkiffError, isSkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { DigestingStream, Digester, digestMismatch, digestOf, isDigest, parseDigest, sizeMismatch, type Digest } from '../oci/digest.ts';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { DEFAULT_LIMITS, isValidMediaType, normalizeDeclaredMediaType, parseAnyManifest } from '../oci/validate.ts';
import { findRegistry, loadRegistriesConf } from '../ref/registries-conf.ts';
import { isValidRegistry, isValidTag } from '../ref/reference.ts';
import type { ManifestBytes } from '../image/source.ts';
import { lendVerifiedBlob, verifiedBlobStream } from './blob-stream.ts';
import type { BlobLender } from '../oci/blob-lender.ts';
import { RegistryClient } from './client.ts';
import { lookupCredentials } from './credentials.ts';
import { MAX_SMALL_BODY, headerValue, isTransientError, readSmallBody, requestFollowing, retryKindOf, statusError, type RawResponse } from './http.ts';
import { DEFAULT_HOST_CONCURRENCY } from './host-limiter.ts';
import { redactUrl } from './redact.ts';
import { checkRedirect, sameOrigin } from './redirect-policy.ts';
import { retryPlan } from './retry.ts';
import { bulkConnectFor, dispatcherFor, loadTlsSettings } from './tls.ts';
import { defaultPlainHttpMemory } from './plain-http-memory.ts';
import type { BlobReadOpts, Credentials, RegistryOptions, RegistryRepository } from './types.ts';

/** Largest manifest read or written (RC-05). */
export const MAX_MANIFEST_BYTES = DEFAULT_LIMITS.maxManifestBytes;

const ACCEPT = [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');
const REPO_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** True when `s` is a valid repository path (distribution grammar, ≤ 255 characters). */
export function isValidRepository(s: string): boolean {
  return s.length > 0 && s.length <= 255 && REPO_RE.test(s);
}

function checkRepository(s: string): string {
  if (!isValidRepository(s)) throw new SkiffError('EINVALID', `invalid repository name ${JSON.stringify(s.slice(0, 120))}`);
  return s;
}

function checkReference(ref: string, name: string): string {
  if (isDigest(ref)) return ref;
  if (ref.includes(':')) parseDigest(ref, `digest of ${name}`);
  if (!isValidTag(ref)) throw new SkiffError('EINVALID', `invalid tag ${JSON.stringify(ref.slice(0, 140))} for ${name}`);
  return ref;
}

const pullScope = (repo: string) => `repository:${repo}:pull`;
const pushScope = (repo: string) => `repository:${repo}:pull,push`;

interface Endpoint {
  registry: string;
  repository: string;
  client: RegistryClient;
  mirror: boolean;
}

function apiHostOf(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

function contentLength(res: RawResponse): number | undefined {
  const v = headerValue(res.headers, 'content-length');
  if (v === undefined || !/^\d{1,15}$/.test(v)) return undefined;
  return Number(v);
}

/**
 * Blobs at least this large are lent (lendBlob: a connection of their own, 1 MiB reads into one reused buffer):
 * below it a new connection costs more than the per-read work it saves, and the pooled keep-alive one serves.
 */
export const BULK_MIN_BYTES = 8 << 20;

async function dump(res: RawResponse): Promise<void> {
  await res.body.dump({ limit: MAX_SMALL_BODY }).catch(() => {});
}

/** Builds the client of one endpoint from options (TLS material, dispatcher, lazily looked-up credentials). */
async function makeClient(registry: string, repository: string, opts: RegistryOptions, tlsVerify: boolean): Promise<RegistryClient> {
  const tls = await loadTlsSettings(registry, { certDir: opts.certDir, tlsVerify });
  const env = opts.env ?? process.env;
  let creds: Promise<Credentials | undefined> | undefined;
  const retryTimes = opts.retryTimes ?? 3;
  return new RegistryClient({
    registry,
    apiHost: apiHostOf(registry),
    dispatcher: await dispatcherFor(tls, env),
    bulkConnect: bulkConnectFor(tls, env),
    allowHttp: !tlsVerify,
    ...(!tlsVerify ? { plainHttpMemory: defaultPlainHttpMemory(env) } : {}),
    credentials: () =>
      (creds ??= opts.credentials !== undefined
        ? Promise.resolve(opts.credentials)
        : lookupCredentials(registry, repository, { authFile: opts.authFile, env })),
    credentialsFor: (host) => lookupCredentials(host, '', { authFile: opts.authFile, env }),
    userAgent: opts.userAgent ?? 'skiff/0.1',
    retryTimes,
    retryBaseMs: opts.retryBaseMs ?? 500,
    retryMaxDelayMs: opts.retryMaxDelayMs ?? 10_000,
    retryAfterCapMs: opts.retryAfterCapMs ?? 60_000,
    max429Attempts: 5,
    maxConcurrentPerHost: opts.maxConcurrentPerHost ?? DEFAULT_HOST_CONCURRENCY,
    headersTimeout: opts.headersTimeout ?? 60_000,
    bodyTimeout: opts.bodyTimeout ?? 120_000,
    debug: opts.debug,
    onRetry: opts.onRetry,
  });
}

/** Yields `body` in chunks of exactly `size` bytes (the last may be shorter); holds at most one chunk. */
async function* chunksOf(body: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let have = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    let buf = c;
    while (buf.length > 0) {
      const take = Math.min(size - have, buf.length);
      parts.push(buf.subarray(0, take));
      have += take;
      buf = buf.subarray(take);
      if (have === size) {
        yield Buffer.concat(parts, have);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts, have);
}

/**
 * A distribution-spec v2 client for one repository. Nothing the registry returns is trusted: manifests are
 * size-capped, digest-checked and media-type-checked; blobs are verified while they stream; tags and digests are
 * validated before use. Reads go to registries.conf mirrors first, then the registry; writes go to the
 * registry only. Safe to share across concurrent calls.
 */
class Repository implements RegistryRepository {
  readonly registry: string;
  readonly repository: string;
  readonly #opts: RegistryOptions;
  #endpoints: Promise<Endpoint[]> | undefined;

  constructor(registry: string, repository: string, opts: RegistryOptions) {
    this.registry = registry;
    this.repository = repository;
    this.#opts = opts;
  }

  #name(ref?: string): string {
    const n = `${this.registry}/${this.repository}`;
    return ref === undefined ? n : isDigest(ref) ? `${n}@${ref}` : `${n}:${ref}`;
  }

  /** Mirrors (when configured and enabled) then the primary endpoint, last. */
  endpoints(): Promise<Endpoint[]> {
    if (this.#endpoints === undefined) {
      this.#endpoints = this.#resolveEndpoints();
      this.#endpoints.catch(() => (this.#endpoints = undefined));
    }
    return this.#endpoints;
  }

  async #resolveEndpoints(): Promise<Endpoint[]> {
    const o = this.#opts;
    const env = o.env ?? process.env;
    const conf = await loadRegistriesConf({ path: o.registriesConf, env });
    const full = `${this.registry}/${this.repository}`;
    const entry = findRegistry(conf, full);
    if (entry?.blocked) throw new SkiffError('EPERM', `registry ${this.registry} is blocked in registries.conf`, { hint: `see ${conf.files.join(', ')}` });
    const split = (loc: string, remainder: string): { registry: string; repository: string } | undefined => {
      const whole = `${loc}${remainder}`;
      const i = whole.indexOf('/');
      if (i <= 0) return undefined;
      const reg = whole.slice(0, i);
      const repo = whole.slice(i + 1);
      return isValidRegistry(reg) && isValidRepository(repo) ? { registry: reg, repository: repo } : undefined;
    };
    const out: Endpoint[] = [];
    let primary = { registry: this.registry, repository: this.repository };
    let insecure = false;
    if (entry && !entry.prefix.startsWith('*.')) {
      const remainder = full.slice(entry.prefix.length);
      primary = split(entry.location, remainder) ?? primary;
      insecure = entry.insecure;
      if (o.useMirrors !== false) {
        for (const m of entry.mirrors) {
          const at = split(m.location, remainder);
          if (!at) continue;
          const tv = o.tlsVerify ?? !m.insecure;
          out.push({ ...at, client: await makeClient(at.registry, at.repository, o, tv), mirror: true });
        }
      }
    } else if (entry) insecure = entry.insecure;
    const tlsVerify = o.tlsVerify ?? !insecure;
    out.push({ ...primary, client: await makeClient(primary.registry, primary.repository, o, tlsVerify), mirror: false });
    return out;
  }

  async #primary(): Promise<Endpoint> {
    const eps = await this.endpoints();
    return eps[eps.length - 1]!;
  }

  /** Runs a read against each endpoint in turn; a mirror's failure falls through to the next. */
  async #read<T>(fn: (ep: Endpoint) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const eps = await this.endpoints();
    for (const ep of eps) {
      throwIfAborted(signal);
      if (!ep.mirror) return fn(ep);
      try {
        return await fn(ep);
      } catch (e) {
        if (isSkiffError(e, 'EABORT')) throw e;
        this.#opts.debug?.(`mirror ${ep.registry} failed (${(e as Error).message}); trying the next source`);
      }
    }
    throw new Error('unreachable: no endpoints');
  }

  warm(o: Cancellable = {}): void {
    this.#primary().then(
      (ep) => ep.client.warm(o.signal),
      () => {}, // the same failure reaches the first request
    );
  }

  async ping(o: Cancellable = {}): Promise<void> {
    const ep = await this.#primary();
    const res = await ep.client.send({ method: 'GET', path: '/v2/', scopes: [pullScope(ep.repository)], ...o });
    if (res.statusCode === 200) return dump(res);
    const e = await statusError(res, `checking ${ep.registry}`, this.registry, o.signal);
    if (e.code === 'EPERM') throw new SkiffError('EPERM', `authenticating to ${ep.registry}: invalid username/password`, { details: e.details ?? {}, hint: e.hint ?? '' });
    throw e;
  }

  async getManifest(reference: string, o: Cancellable = {}): Promise<ManifestBytes> {
    const ref = checkReference(reference, this.#name());
    const name = this.#name(ref);
    return this.#read((ep) => this.#getManifestAt(ep, ref, name, o), o.signal);
  }

  async #getManifestAt(ep: Endpoint, ref: string, name: string, o: Cancellable): Promise<ManifestBytes> {
    const res = await ep.client.send({ method: 'GET', path: `/v2/${ep.repository}/manifests/${ref}`, headers: { accept: ACCEPT }, scopes: [pullScope(ep.repository)], ...o });
    if (res.statusCode === 404) {
      await dump(res);
      throw new SkiffError('ENOTFOUND', `manifest unknown: ${name}`, { hint: 'check the tag or digest (copy-tool list-tags shows the tags)' });
    }
    if (res.statusCode !== 200) throw await statusError(res, `reading manifest ${name}`, this.registry, o.signal);
    const cl = contentLength(res);
    if (cl !== undefined && cl > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw new SkiffError('ELIMIT', `manifest ${name} is ${cl} bytes, above the limit of ${MAX_MANIFEST_BYTES}`, { hint: 'the document is unreasonably large; it may be malicious' });
    }
    let bytes: Uint8Array;
    try {
      bytes = await readSmallBody(res, MAX_MANIFEST_BYTES, `manifest ${name}`, o.signal);
    } catch (e) {
      if (isSkiffError(e, 'ELIMIT')) throw new SkiffError('ELIMIT', `manifest ${name} is larger than the limit of ${MAX_MANIFEST_BYTES} bytes`, { hint: e.hint ?? '' });
      throw e;
    }
    const actual = digestOf(bytes);
    if (isDigest(ref) && actual !== ref) {
      const e = digestMismatch(ref, actual);
      throw new SkiffError('EINTEGRITY', `manifest ${name}: the registry returned other bytes (${e.message})`, { details: e.details ?? {}, hint: e.hint ?? '' });
    }
    const dcd = headerValue(res.headers, 'docker-content-digest');
    if (dcd !== undefined && dcd.startsWith('sha256:')) {
      const claimed = parseDigest(dcd, `Docker-Content-Digest of ${name}`);
      if (claimed !== actual) throw new SkiffError('EINTEGRITY', `manifest ${name}: Docker-Content-Digest ${claimed} does not match the bytes (${actual})`, { details: { expected: claimed, actual } });
    }
    const ct = headerValue(res.headers, 'content-type');
    let parsed;
    try {
      parsed = parseAnyManifest(bytes, ct !== undefined ? { mediaType: ct } : {});
    } catch (e) {
      if (isSkiffError(e)) throw new SkiffError(e.code, `manifest ${name}: ${e.message}`, { hint: e.hint ?? '', details: e.details ?? {}, cause: e });
      throw e;
    }
    return { bytes, mediaType: parsed.mediaType ?? normalizeDeclaredMediaType(ct) ?? '', digest: actual };
  }

  async headManifest(reference: string, o: Cancellable = {}): Promise<Descriptor | undefined> {
    const ref = checkReference(reference, this.#name());
    const name = this.#name(ref);
    return this.#read((ep) => this.#headManifestAt(ep, ref, name, o), o.signal);
  }

  async #headManifestAt(ep: Endpoint, ref: string, name: string, o: Cancellable): Promise<Descriptor | undefined> {
    const res = await ep.client.send({ method: 'HEAD', path: `/v2/${ep.repository}/manifests/${ref}`, headers: { accept: ACCEPT }, scopes: [pullScope(ep.repository)], ...o });
    await dump(res);
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await statusError(res, `checking manifest ${name}`, this.registry, o.signal);
    const dcd = headerValue(res.headers, 'docker-content-digest');
    const size = contentLength(res);
    const mt = normalizeDeclaredMediaType(headerValue(res.headers, 'content-type'));
    let digest: Digest | undefined = dcd !== undefined && dcd.startsWith('sha256:') ? parseDigest(dcd, `Docker-Content-Digest of ${name}`) : undefined;
    if (isDigest(ref)) {
      if (digest !== undefined && digest !== ref) throw new SkiffError('EINTEGRITY', `manifest ${name}: the registry reports digest ${digest}`);
      digest = ref;
    }
    if (digest === undefined || size === undefined || mt === undefined || !isValidMediaType(mt)) {
      const m = await this.#getManifestAt(ep, ref, name, o);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    }
    if (size > MAX_MANIFEST_BYTES) throw new SkiffError('ELIMIT', `manifest ${name} is ${size} bytes, above the limit of ${MAX_MANIFEST_BYTES}`);
    return { mediaType: mt, digest, size };
  }

  async putManifest(reference: string, bytes: Uint8Array, mediaType: string, o: Cancellable = {}): Promise<Digest> {
    const ref = checkReference(reference, this.#name());
    const name = this.#name(ref);
    if (bytes.length > MAX_MANIFEST_BYTES) throw new SkiffError('ELIMIT', `manifest for ${name} is ${bytes.length} bytes, above the limit of ${MAX_MANIFEST_BYTES}`);
    if (!isValidMediaType(mediaType)) throw new SkiffError('EINVALID', `invalid media type ${JSON.stringify(mediaType)} for manifest ${name}`);
    const digest = digestOf(bytes);
    if (isDigest(ref) && ref !== digest) throw new SkiffError('EINVALID', `cannot store manifest ${digest} under the digest ${ref}`);
    if (MANIFEST_MEDIA_TYPES.has(mediaType) || INDEX_MEDIA_TYPES.has(mediaType)) parseAnyManifest(bytes, { mediaType });
    const ep = await this.#primary();
    const retries = this.#opts.retryTimes ?? 3;
    for (let attempt = 0; ; attempt++) {
      let failure: SkiffError;
      try {
        const res = await ep.client.send({
          method: 'PUT',
          path: `/v2/${ep.repository}/manifests/${ref}`,
          headers: { 'content-type': mediaType },
          body: bytes,
          scopes: [pushScope(ep.repository)],
          ...o,
        });
        if (res.statusCode === 201 || res.statusCode === 200 || res.statusCode === 202) {
          await dump(res);
          const dcd = headerValue(res.headers, 'docker-content-digest');
          let stored: Digest | undefined = dcd !== undefined && dcd.startsWith('sha256:') ? parseDigest(dcd, 'Docker-Content-Digest') : undefined;
          if (stored === undefined && !isDigest(ref)) {
            // no header: ask what the tag holds now (HEAD, else the digest of a GET), before anyone signs it
            stored = (await this.#headManifestAt(ep, ref, name, o))?.digest;
            if (stored === undefined) throw new SkiffError('EIO', `pushing manifest ${name}: the registry accepted it but does not have it under the tag`);
          }
          if (stored !== undefined && stored !== digest) {
            throw new SkiffError('EINTEGRITY', `pushing manifest ${name}: the registry stored ${stored}, not ${digest}`, { details: { expected: digest, actual: stored } });
          }
          return digest;
        }
        failure = await statusError(res, `pushing manifest ${name}`, this.registry, o.signal);
        if (res.statusCode < 500) throw failure;
      } catch (e) {
        if (!isTransientError(e)) throw e;
        failure = e as SkiffError;
      }
      // RC-10: the PUT may have landed; check (at the registry, not a mirror) before sending it again
      const now = await this.#headManifestAt(ep, ref, name, o).catch(() => undefined);
      if (now?.digest === digest) return digest;
      const plan = retryPlan(retryKindOf(failure) ?? 'backoff', attempt, { retryTimes: retries, baseMs: this.#opts.retryBaseMs ?? 500, capMs: this.#opts.retryMaxDelayMs ?? 10_000 });
      if (!plan) throw failure;
      this.#opts.onRetry?.({ error: failure.message, attempt: attempt + 1, of: plan.of, delayMs: plan.delayMs });
      try {
        await delay(plan.delayMs, undefined, o.signal ? { signal: o.signal } : {});
      } catch {
        throwIfAborted(o.signal);
      }
    }
  }

  async deleteManifest(digest: Digest, o: Cancellable = {}): Promise<void> {
    const d = parseDigest(digest);
    const name = this.#name(d);
    const ep = await this.#primary();
    const res = await ep.client.send({ method: 'DELETE', path: `/v2/${ep.repository}/manifests/${d}`, scopes: [`repository:${ep.repository}:delete`, pullScope(ep.repository)], ...o });
    if (res.statusCode === 202 || res.statusCode === 200 || res.statusCode === 204) return dump(res);
    if (res.statusCode === 404) {
      await dump(res);
      throw new SkiffError('ENOTFOUND', `manifest unknown: ${name}`);
    }
    const e = await statusError(res, `deleting ${name}`, this.registry, o.signal);
    if (e.code === 'EUNSUPPORTED') throw new SkiffError('EUNSUPPORTED', e.message, { hint: 'the registry has deletion disabled (distribution: storage.delete.enabled)' });
    throw e;
  }

  async headBlob(digest: Digest, o: Cancellable = {}): Promise<number | undefined> {
    const d = parseDigest(digest);
    return this.#read((ep) => this.#headBlobAt(ep, d, o), o.signal);
  }

  async #headBlobAt(ep: Endpoint, d: Digest, o: Cancellable): Promise<number | undefined> {
    const res = await ep.client.send({ method: 'HEAD', path: `/v2/${ep.repository}/blobs/${d}`, scopes: [pullScope(ep.repository)], ...o });
    await dump(res);
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await statusError(res, `checking blob ${ep.registry}/${ep.repository}@${d}`, this.registry, o.signal);
    const size = contentLength(res);
    if (size === undefined) throw new SkiffError('EIO', `checking blob ${ep.registry}/${ep.repository}@${d}: the registry sent no valid Content-Length`);
    return size;
  }

  async getBlob(desc: Pick<Descriptor, 'digest' | 'size'> & { urls?: string[]; mediaType?: string }, o: BlobReadOpts = {}): Promise<Readable> {
    const digest = parseDigest(desc.digest);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new SkiffError('EINVALID', `invalid size ${desc.size} for blob ${digest}`);
    const expect = { digest, size: desc.size };
    const maxResumes = this.#opts.maxResumes ?? this.#opts.retryTimes ?? 3;
    if (desc.urls !== undefined && desc.urls.length > 0) {
      if (this.#opts.allowForeignUrls === true) {
        const s = await this.#foreignBlob(desc.urls, expect, maxResumes, o);
        if (s) return s;
      } else {
        this.#opts.debug?.(`blob ${digest}: ignoring foreign URLs (disabled)`);
      }
    }
    return this.#read(async (ep) => {
      const b = await this.#openBlob(ep, desc, o, false);
      return verifiedBlobStream(b.first, b.expect, b.open, b.opts);
    }, o.signal);
  }

  /**
   * getBlob for a consumer that takes lent chunks (copy into a local layout): a blob of BULK_MIN_BYTES or more is
   * received over a connection of its own into one reused buffer (bulkGet), with getBlob's checks and resumes.
   * Undefined for a smaller blob or one with foreign URLs: read those with getBlob.
   */
  async lendBlob(desc: Pick<Descriptor, 'digest' | 'size'> & { urls?: string[]; mediaType?: string }, o: BlobReadOpts = {}): Promise<BlobLender | undefined> {
    if (!Number.isSafeInteger(desc.size) || desc.size < BULK_MIN_BYTES || (desc.urls !== undefined && desc.urls.length > 0)) return undefined;
    return this.#read(async (ep) => {
      const b = await this.#openBlob(ep, desc, o, true);
      return lendVerifiedBlob(b.first, b.expect, b.open, b.opts);
    }, o.signal);
  }

  /** Sends a blob's GET (every hop a bulk GET with `bulk`) and checks the answer: 200 with the expected length. */
  async #openBlob(ep: Endpoint, desc: Pick<Descriptor, 'digest' | 'size'> & { urls?: string[] }, o: BlobReadOpts, bulk: boolean) {
    const digest = parseDigest(desc.digest);
    const expect = { digest, size: desc.size };
    const what = `blob ${ep.registry}/${ep.repository}@${digest}`;
    const open = (offset: number, signal?: AbortSignal) =>
      ep.client.send({
        method: 'GET',
        path: `/v2/${ep.repository}/blobs/${digest}`,
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        scopes: [pullScope(ep.repository)],
        signal,
        bulk,
      });
    const first = await open(0, o.signal);
    if (first.statusCode === 404) {
      await dump(first);
      throw new SkiffError('ENOTFOUND', `blob unknown: ${what}`, desc.urls?.length ? { hint: 'the layer is a foreign layer; enable foreign URLs to fetch it from its urls' } : {});
    }
    if (first.statusCode !== 200) throw await statusError(first, `reading ${what}`, this.registry, o.signal);
    const cl = contentLength(first);
    if (cl !== undefined && cl !== desc.size) {
      first.body.destroy();
      throw sizeMismatch(desc.size, cl, false);
    }
    const maxResumes = this.#opts.maxResumes ?? this.#opts.retryTimes ?? 3;
    return { first, expect, open, opts: { maxResumes, what, hash: o.sinkVerifies !== true, signal: o.signal, debug: this.#opts.debug } };
  }

  /** RC-14: foreign URLs are fetched with no credentials at all, under the redirect policy, and verified. */
  async #foreignBlob(urls: string[], expect: { digest: Digest; size: number }, maxResumes: number, o: Cancellable): Promise<Readable | undefined> {
    const ep = await this.#primary();
    const registry = ep.client.scope;
    for (const u of urls) {
      let url: URL;
      try {
        url = new URL(u);
        checkRedirect(url, url, { registry });
      } catch (e) {
        this.#opts.debug?.(`foreign URL refused: ${(e as Error).message}`);
        continue;
      }
      const open = (offset: number, signal?: AbortSignal) =>
        requestFollowing({
          method: 'GET',
          url,
          headers: { 'user-agent': this.#opts.userAgent ?? 'skiff/0.1', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) },
          dispatcher: ep.client.s.dispatcher,
          registry,
          headersTimeout: ep.client.s.headersTimeout,
          bodyTimeout: ep.client.s.bodyTimeout,
          signal,
        });
      try {
        const res = await open(0, o.signal);
        if (res.statusCode !== 200) {
          await dump(res);
          this.#opts.debug?.(`foreign URL ${redactUrl(url)} answered ${res.statusCode}`);
          continue;
        }
        return verifiedBlobStream(res, expect, open, { maxResumes, what: `foreign layer ${expect.digest} from ${redactUrl(url)}`, signal: o.signal });
      } catch (e) {
        if (isSkiffError(e, 'EABORT')) throw e;
        this.#opts.debug?.(`foreign URL failed: ${(e as Error).message}`);
      }
    }
    return undefined;
  }

  async #startUpload(ep: Endpoint, o: Cancellable): Promise<URL> {
    const res = await ep.client.send({ method: 'POST', path: `/v2/${ep.repository}/blobs/uploads/`, headers: { 'content-length': '0' }, scopes: [pushScope(ep.repository)], ...o });
    if (res.statusCode !== 202) throw await statusError(res, `starting an upload to ${ep.registry}/${ep.repository}`, this.registry, o.signal);
    await dump(res);
    return this.#location(ep, res, `starting an upload to ${ep.registry}/${ep.repository}`);
  }

  #location(ep: Endpoint, res: RawResponse, what: string): URL {
    const loc = headerValue(res.headers, 'location');
    if (loc === undefined) throw new SkiffError('EIO', `${what}: the registry sent no upload Location`);
    let url: URL;
    try {
      url = new URL(loc, res.url);
    } catch {
      throw new SkiffError('EIO', `${what}: the registry sent an invalid upload Location`);
    }
    checkRedirect(res.url, url, { registry: ep.client.scope });
    return url;
  }

  async putBlob(desc: Pick<Descriptor, 'digest' | 'size'>, body: Readable, o: Cancellable = {}): Promise<void> {
    const digest = parseDigest(desc.digest);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw new SkiffError('EINVALID', `invalid size ${desc.size} for blob ${digest}`);
    const ep = await this.#primary();
    const chunk = this.#opts.uploadChunkSize;
    if (chunk !== undefined && chunk > 0) return this.#putChunked(ep, { digest, size: desc.size }, body, chunk, o);
    const what = `pushing blob ${digest} to ${ep.registry}/${ep.repository}`;
    const loc = await this.#startUpload(ep, o);
    const verify = new DigestingStream({ digest, size: desc.size });
    let localErr: unknown;
    verify.once('error', (e) => (localErr ??= e));
    body.once('error', (e) => {
      localErr ??= e;
      verify.destroy(e);
    });
    body.pipe(verify);
    const url = new URL(loc);
    url.searchParams.set('digest', digest);
    let failure: SkiffError;
    try {
      const res = await ep.client.send({
        method: 'PUT',
        path: url,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
        body: verify,
        scopes: [pushScope(ep.repository)],
        ...o,
      });
      if (res.statusCode === 201 || res.statusCode === 204 || res.statusCode === 200) {
        await dump(res);
        if (localErr) throw localErr;
        const dcd = headerValue(res.headers, 'docker-content-digest');
        if (dcd !== undefined && dcd.startsWith('sha256:') && dcd !== digest) throw new SkiffError('EINTEGRITY', `${what}: the registry stored ${dcd}`);
        return;
      }
      failure = await statusError(res, what, this.registry, o.signal);
      if (res.statusCode < 500) throw failure;
    } catch (e) {
      body.unpipe(verify);
      if (localErr !== undefined) throw localErr;
      if (!isTransientError(e)) throw e;
      failure = e as SkiffError;
    }
    // RC-10: never resend blindly; the blob may have been stored before the failure was reported
    const size = await this.#headBlobAt(ep, digest, o).catch(() => undefined);
    if (size === desc.size) return;
    throw new SkiffError(failure.code, failure.message, { hint: 'the upload failed and its body cannot be replayed; retry the operation', details: failure.details ?? {}, cause: failure });
  }

  /** Chunked upload (PATCH) with recovery from a broken chunk through the upload status (RC-17). */
  async #putChunked(ep: Endpoint, expect: { digest: Digest; size: number }, body: Readable, chunkSize: number, o: Cancellable): Promise<void> {
    const what = `pushing blob ${expect.digest} to ${ep.registry}/${ep.repository}`;
    let loc = await this.#startUpload(ep, o);
    const digester = new Digester();
    let offset = 0;
    const retries = this.#opts.retryTimes ?? 3;
    const scopes = [pushScope(ep.repository)];
    try {
      for await (const chunk of chunksOf(body, chunkSize)) {
        digester.update(chunk);
        if (digester.size > expect.size) throw sizeMismatch(expect.size, digester.size, true);
        let sent = 0;
        for (let attempt = 0; sent < chunk.length; attempt++) {
          throwIfAborted(o.signal);
          let failure: SkiffError | undefined;
          try {
            const part = chunk.subarray(sent);
            const res = await ep.client.send({
              method: 'PATCH',
              path: loc,
              headers: {
                'content-type': 'application/octet-stream',
                'content-length': String(part.length),
                'content-range': `${offset + sent}-${offset + chunk.length - 1}`,
              },
              body: part,
              scopes,
              ...o,
            });
            if (res.statusCode === 202 || res.statusCode === 204) {
              await dump(res);
              loc = this.#location(ep, res, what);
              sent = chunk.length;
              break;
            }
            failure = await statusError(res, what, this.registry, o.signal);
            if (res.statusCode !== 416 && res.statusCode < 500) throw failure;
          } catch (e) {
            if (!isTransientError(e)) throw e;
            failure = e as SkiffError;
          }
          if (attempt >= retries) throw failure;
          this.#opts.debug?.(`${what}: chunk at ${offset + sent} failed (${failure.message}); asking the registry for the upload offset`);
          const st = await ep.client.send({ method: 'GET', path: loc, scopes, ...o });
          await dump(st);
          const range = headerValue(st.headers, 'range');
          const m = range !== undefined ? /^(?:bytes=)?0-(-?\d+)$/.exec(range.trim()) : null;
          if (st.statusCode !== 204 || !m) {
            if (offset === 0) {
              this.#opts.debug?.(`${what}: the upload session is gone (${st.statusCode}); starting a new one`);
              loc = await this.#startUpload(ep, o);
              sent = 0;
              continue;
            }
            throw new SkiffError('EIO', `${what}: the upload session broke after ${offset} bytes and the registry cannot resume it (${st.statusCode})`, { hint: 'retry the operation' });
          }
          loc = this.#location(ep, st, what);
          const have = Number(m[1]) + 1;
          if (have < offset + 0 || have > offset + chunk.length) {
            throw new SkiffError('EIO', `${what}: the registry holds ${have} bytes, which is outside the chunk being sent (${offset}-${offset + chunk.length})`, { hint: 'retry the operation' });
          }
          sent = have - offset;
        }
        offset += chunk.length;
      }
      if (digester.size !== expect.size) throw sizeMismatch(expect.size, digester.size, false);
      const actual = digester.digest();
      if (actual !== expect.digest) throw digestMismatch(expect.digest, actual);
    } catch (e) {
      await ep.client.send({ method: 'DELETE', path: loc, scopes, ...o }).then(dump, () => {});
      throw e;
    }
    const url = new URL(loc);
    url.searchParams.set('digest', expect.digest);
    const res = await ep.client.send({ method: 'PUT', path: url, headers: { 'content-length': '0', 'content-type': 'application/octet-stream' }, scopes, ...o });
    if (res.statusCode === 201 || res.statusCode === 204 || res.statusCode === 200) return dump(res);
    const failure = await statusError(res, what, this.registry, o.signal);
    if (res.statusCode >= 500) {
      const size = await this.#headBlobAt(ep, expect.digest, o).catch(() => undefined);
      if (size === expect.size) return;
    }
    throw failure;
  }

  async mountBlob(digest: Digest, fromRepository: string, o: Cancellable = {}): Promise<boolean> {
    const d = parseDigest(digest);
    const from = checkRepository(fromRepository);
    const ep = await this.#primary();
    const url = `/v2/${ep.repository}/blobs/uploads/?mount=${encodeURIComponent(d)}&from=${encodeURIComponent(from)}`;
    const res = await ep.client.send({ method: 'POST', path: url, headers: { 'content-length': '0' }, scopes: [pushScope(ep.repository), pullScope(from)], ...o });
    if (res.statusCode === 201) {
      await dump(res);
      return true;
    }
    if (res.statusCode === 202) {
      await dump(res);
      // the registry declined and opened an upload session instead: cancel it
      try {
        const loc = this.#location(ep, res, `mounting ${d}`);
        await ep.client.send({ method: 'DELETE', path: loc, scopes: [pushScope(ep.repository)], ...o }).then(dump);
      } catch {
        /* best effort */
      }
      return false;
    }
    throw await statusError(res, `mounting blob ${d} from ${from} into ${this.#name()}`, this.registry, o.signal);
  }

  async listTags(o: Cancellable & { pageSize?: number } = {}): Promise<string[]> {
    const ep = await this.#primary();
    const base = await ep.client.base(o.signal);
    let next: URL | undefined = new URL(`/v2/${ep.repository}/tags/list`, base);
    if (o.pageSize !== undefined) next.searchParams.set('n', String(Math.max(1, Math.floor(o.pageSize))));
    const seen = new Set<string>();
    const out: string[] = [];
    const have = new Set<string>();
    for (let page = 0; next !== undefined && page < 100_000; page++) {
      seen.add(next.href);
      const res = await ep.client.send({ method: 'GET', path: next, headers: { accept: 'application/json' }, scopes: [pullScope(ep.repository)], signal: o.signal });
      if (res.statusCode === 404) {
        await dump(res);
        throw new SkiffError('ENOTFOUND', `repository unknown: ${this.#name()}`);
      }
      if (res.statusCode !== 200) throw await statusError(res, `listing tags of ${this.#name()}`, this.registry, o.signal);
      const bytes = await readSmallBody(res, MAX_MANIFEST_BYTES, `tag list of ${this.#name()}`, o.signal);
      let v: { tags?: unknown };
      try {
        v = JSON.parse(Buffer.from(bytes).toString('utf8')) as { tags?: unknown };
      } catch {
        throw new SkiffError('EIO', `listing tags of ${this.#name()}: the registry sent invalid JSON`);
      }
      const tags = Array.isArray(v.tags) ? v.tags : [];
      for (const t of tags) {
        if (typeof t === 'string' && isValidTag(t)) {
          if (!have.has(t)) {
            have.add(t);
            out.push(t);
          }
        } else this.#opts.debug?.(`dropping invalid tag ${JSON.stringify(String(t).slice(0, 80))} from ${this.#name()}`);
      }
      next = undefined;
      const link = headerValue(res.headers, 'link');
      const m = link !== undefined ? /<([^>]*)>\s*;\s*rel="?next"?/.exec(link) : null;
      if (m) {
        const u = new URL(m[1]!, res.url);
        if (!sameOrigin(u, base)) throw new SkiffError('EUNSAFE', `listing tags of ${this.#name()}: the next page is on another origin (${redactUrl(u)})`);
        if (!seen.has(u.href)) next = u;
      }
    }
    return out;
  }
}

/**
 * Opens `repository` on `registry` (host[:port] of a normalised reference; `docker.io` means Docker Hub's
 * API host). Validates both names at once; performs no I/O until the first call (registries.conf, TLS
 * material and credentials are read lazily, the registry is pinged once).
 */
export function openRepository(registry: string, repository: string, opts: RegistryOptions = {}): RegistryRepository {
  if (!isValidRegistry(registry)) throw new SkiffError('EINVALID', `invalid registry ${JSON.stringify(registry.slice(0, 120))}`);
  checkRepository(repository);
  return new Repository(registry, repository, opts);
}

/**
 * Checks credentials against a registry the way `podman login` does: ping `/v2/`, then authenticate (Basic, or
 * a Bearer token with no scope) and expect `/v2/` to answer 200. Rejects with EPERM on bad credentials.
 * Pass as `verify` to login().
 */
export async function checkLogin(registry: string, creds: Credentials, opts: RegistryOptions & Cancellable = {}): Promise<void> {
  if (!isValidRegistry(registry.split('/', 1)[0]!)) throw new SkiffError('EINVALID', `invalid registry ${JSON.stringify(registry)}`);
  const host = registry.split('/', 1)[0]!;
  const conf = await loadRegistriesConf({ path: opts.registriesConf, env: opts.env ?? process.env });
  const tlsVerify = opts.tlsVerify ?? !(findRegistry(conf, host)?.insecure ?? false);
  const client = await makeClient(host, 'library/x', { ...opts, credentials: creds }, tlsVerify);
  const res = await client.send({ method: 'GET', path: '/v2/', scopes: [], signal: opts.signal });
  if (res.statusCode === 200) return dump(res);
  const e = await statusError(res, `logging in to ${host}`, host, opts.signal);
  if (e.code === 'EPERM') throw new SkiffError('EPERM', `logging in to ${host}: invalid username/password`, { details: e.details ?? {} });
  throw e;
}
