import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { openRepository } from '../../../shared/registry/repository.ts';
import { requestFollowing } from '../../../shared/registry/http.ts';
import { registryScope } from '../../../shared/registry/redirect-policy.ts';
import { dispatcherFor } from '../../../shared/registry/tls.ts';
import type { Digest } from '../../../shared/oci/digest.ts';
import { MediaType } from '../../../shared/oci/media-types.ts';
import { trickle } from '../../helpers/fault-server.ts';
import { basicAuthRedirectRoute, faultRegistrySuite, truncatingBlobRoute, readAll } from '../../helpers/fault-registry.ts';
import { sha256 } from '../../helpers/registry.ts';

const { base, serve } = faultRegistrySuite('skiff-reg-fault-');

const blob = randomBytes(100_000);
const blobDesc = { digest: sha256(blob) as Digest, size: blob.length };
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: sha256('c'), size: 1 }, layers: [] }));
const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }));

describe('registry client against faults', () => {
  it('RC-01 rejects blob bytes that differ from the digest (+1, −1, other bytes) naming both digests', async () => {
    for (const body of [Buffer.concat([blob, Buffer.from('x')]), blob.subarray(1), randomBytes(blob.length)]) {
      const s = await serve((_q, res) => void res.end(body));
      const r = openRepository(s.host, 'a/b', base);
      const e: unknown = await r.getBlob(blobDesc).then(readAll).catch((x: unknown) => x);
      expect(['EINTEGRITY', 'EBADSIZE']).toContain((e as { code: string }).code);
      if ((e as { code: string }).code === 'EINTEGRITY') {
        expect((e as Error).message).toContain(blobDesc.digest);
        expect((e as Error).message).toContain(sha256(body));
      }
    }
  });

  it('RC-02 rejects a manifest by digest whose bytes differ, and a tag whose Docker-Content-Digest lies', async () => {
    const altered = Buffer.concat([Buffer.from(' '), manifest]);
    const s = await serve((req, res) => {
      res.setHeader('content-type', MediaType.OciManifest);
      if (req.url!.includes('/manifests/sha256:')) return void res.end(altered);
      res.setHeader('docker-content-digest', sha256('other'));
      res.end(manifest);
    });
    const r = openRepository(s.host, 'a/b', base);
    await expect(r.getManifest(sha256(manifest))).rejects.toMatchObject({ code: 'EINTEGRITY' });
    await expect(r.getManifest('v1')).rejects.toMatchObject({ code: 'EINTEGRITY', message: expect.stringContaining('Docker-Content-Digest') });
  });

  it('RC-04 rejects Content-Type/mediaType confusion and ambiguous documents', async () => {
    const ambiguous = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [], layers: [], config: {} }));
    const s = await serve((req, res) => {
      res.setHeader('content-type', req.url!.endsWith('/amb') ? 'application/json' : MediaType.OciManifest);
      res.end(req.url!.endsWith('/amb') ? ambiguous : index);
    });
    const r = openRepository(s.host, 'a/b', base);
    await expect(r.getManifest('idx')).rejects.toMatchObject({ code: 'EINVALID' });
    await expect(r.getManifest('amb')).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('RC-05 aborts oversized manifests, endless bodies, huge tokens and error bodies at the limits', async () => {
    const big = Buffer.alloc(5 << 20, 0x20);
    const s = await serve(async (req, res) => {
      if (req.url!.endsWith('/declared')) return void res.end(big);
      if (req.url!.endsWith('/endless')) {
        res.setHeader('content-type', MediaType.OciManifest);
        return trickle(res, Buffer.alloc(64 << 20, 0x20), 256 << 10, 1, 5000);
      }
      if (req.url!.endsWith('/error')) {
        res.statusCode = 500;
        return trickle(res, Buffer.alloc(64 << 20, 0x41), 256 << 10, 1, 5000);
      }
      res.statusCode = 404;
      res.end();
    });
    const r = openRepository(s.host, 'a/b', { ...base, retryTimes: 0 });
    await expect(r.getManifest('declared')).rejects.toMatchObject({ code: 'ELIMIT' });
    await expect(r.getManifest('endless')).rejects.toMatchObject({ code: 'ELIMIT' });
    const t0 = Date.now();
    await expect(r.getManifest('error')).rejects.toMatchObject({ code: 'EIO' });
    expect(Date.now() - t0).toBeLessThan(4000);
    // a 2 MiB token response
    const reg = await serve((req, res) => {
      if (req.url!.startsWith('/token')) return void res.end(JSON.stringify({ token: 'x'.repeat(2 << 20) }));
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="http://${req.headers.host}/token",service="s"`);
      res.end();
    });
    await expect(openRepository(reg.host, 'a/b', base).getManifest('v1')).rejects.toMatchObject({ code: 'ELIMIT' });
  });

  it('RC-06 resumes a truncated blob only from a 206 starting where it stopped', async () => {
    const cut = Math.floor(blob.length * 0.6);
    const mk = (mode: 'good' | 'full200' | 'wrongrange') => serve(truncatingBlobRoute(blob, cut, mode));
    const good = await mk('good');
    const got = await readAll(await openRepository(good.host, 'a/b', base).getBlob(blobDesc));
    expect(got.equals(blob)).toBe(true);
    expect(good.requests.filter((q) => q.url.includes('/blobs/')).map((q) => q.headers.range)).toEqual([undefined, `bytes=${cut}-`]);
    for (const mode of ['full200', 'wrongrange'] as const) {
      const s = await mk(mode);
      const out: Buffer[] = [];
      const e = await (async () => {
        for await (const c of await openRepository(s.host, 'a/b', base).getBlob(blobDesc)) out.push(c as Buffer);
      })().catch((x: Error) => x);
      expect(e).toMatchObject({ code: 'EIO', message: expect.stringContaining('cannot resume') });
      expect(Buffer.concat(out).length).toBe(cut); // nothing spliced
    }
  });

  it('RC-08 headers and stall timeouts fire; an AbortSignal cancels', async () => {
    const s = await serve(async (req, res) => {
      if (req.url!.endsWith('/slowheaders')) return void setTimeout(() => res.destroyed || res.end(), 5000);
      res.setHeader('content-length', blob.length);
      return trickle(res, blob, 1, 1000, 5000);
    });
    const o = { ...base, headersTimeout: 300, bodyTimeout: 300, retryTimes: 1 };
    const r = openRepository(s.host, 'a/b', o);
    const t0 = Date.now();
    await expect(r.getManifest('slowheaders')).rejects.toMatchObject({ code: 'EIO', message: expect.stringContaining('timed out') });
    await expect(r.getBlob(blobDesc).then(readAll)).rejects.toMatchObject({ code: 'EIO' });
    expect(Date.now() - t0).toBeLessThan(4500);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r2 = openRepository(s.host, 'a/b', { ...base });
    await expect(r2.getManifest('slowheaders', { signal: ac.signal })).rejects.toMatchObject({ code: 'EABORT' });
  });

  it('RC-09 honours Retry-After (seconds, date, capped), ≤ 5 attempts on 429, and is abortable', async () => {
    let n = 0;
    let header: string | undefined = '1';
    const s = await serve((_q, res) => {
      if (n++ === 0) {
        res.statusCode = 429;
        if (header !== undefined) res.setHeader('retry-after', header);
        return void res.end();
      }
      res.setHeader('content-type', MediaType.OciManifest);
      res.end(manifest);
    });
    const r = openRepository(s.host, 'a/b', { ...base, retryAfterCapMs: 1500 });
    let t0 = Date.now();
    await r.getManifest('v1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    n = 0;
    header = new Date(Date.now() + 2000).toUTCString();
    t0 = Date.now();
    await r.getManifest('v1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    n = 0;
    header = '999999';
    t0 = Date.now();
    await r.getManifest('v1');
    expect(Date.now() - t0).toBeLessThan(3000); // capped at 1.5 s
    for (header of ['garbage', undefined, new Date(Date.now() - 60_000).toUTCString()]) {
      n = 0;
      t0 = Date.now();
      await r.getManifest('v1');
      expect(Date.now() - t0).toBeLessThan(1000); // backoff with jitter (small caps in this test)
    }
    const always = await serve((_q, res) => {
      res.statusCode = 429;
      res.end();
    });
    await expect(openRepository(always.host, 'a/b', base).getManifest('v1')).rejects.toMatchObject({ code: 'EIO' });
    expect(always.requests.filter((q) => q.url.includes('/manifests/')).length).toBe(5);
    const slow = await serve((_q, res) => {
      res.statusCode = 429;
      res.setHeader('retry-after', '30');
      res.end();
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    t0 = Date.now();
    await expect(openRepository(slow.host, 'a/b', base).getManifest('v1', { signal: ac.signal })).rejects.toMatchObject({ code: 'EABORT' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('RC-10 retries GET/HEAD on 5xx, never POST blindly, and HEADs the blob before giving up on a PUT', async () => {
    let gets = 0;
    const s = await serve((req, res) => {
      const u = req.url!;
      if (req.method === 'GET' && u.includes('/manifests/')) {
        if (gets++ < 2) {
          res.statusCode = [500, 502][gets - 1]!;
          return void res.end();
        }
        res.setHeader('content-type', MediaType.OciManifest);
        return void res.end(manifest);
      }
      if (req.method === 'POST' && u.includes('/fail/')) {
        res.statusCode = 503;
        return void res.end();
      }
      if (req.method === 'POST') {
        res.statusCode = 202;
        res.setHeader('location', `/v2/a/b/blobs/uploads/u1?_state=SECRET`);
        return void res.end();
      }
      if (req.method === 'PUT') {
        res.statusCode = 500;
        return void res.end();
      }
      if (req.method === 'HEAD' && u.includes('/blobs/')) {
        res.setHeader('content-length', blob.length);
        return void res.end();
      }
      res.statusCode = 404;
      res.end();
    });
    const r = openRepository(s.host, 'a/b', base);
    expect(Buffer.from((await r.getManifest('v1')).bytes).equals(manifest)).toBe(true);
    expect(gets).toBe(3);
    await expect(openRepository(s.host, 'fail/x', base).putBlob(blobDesc, Readable.from([blob]))).rejects.toMatchObject({ code: 'EIO' });
    expect(s.requests.filter((q) => q.method === 'POST' && q.url.includes('/fail/')).length).toBe(1);
    await r.putBlob(blobDesc, Readable.from([blob])); // PUT 500, but the HEAD shows the blob landed
    expect(s.requests.filter((q) => q.method === 'PUT').length).toBe(1);
    expect(s.requests.some((q) => q.method === 'HEAD' && q.url.includes(blobDesc.digest))).toBe(true);
  });

  it('RC-11 strips credentials on a cross-origin redirect; the presigned fetch succeeds', async () => {
    const attacker = await serve((_q, res) => void res.end(blob), '127.0.0.2');
    const reg = await serve(basicAuthRedirectRoute(`${attacker.url}/bucket/blob?X-Amz-Signature=abc`));
    const r = openRepository(reg.host, 'a/b', { ...base, credentials: { username: 'u', password: 'p' } });
    expect((await readAll(await r.getBlob(blobDesc))).equals(blob)).toBe(true);
    const res = await requestFollowing({
      method: 'GET',
      url: new URL(`${reg.url}/v2/a/b/blobs/${blobDesc.digest}`),
      headers: { authorization: 'Basic dTpw', cookie: 'session=1', 'proxy-authorization': 'Basic eA==', 'x-custom-auth': 'secret', accept: '*/*' },
      dispatcher: await dispatcherFor({ rejectUnauthorized: true }),
      registry: registryScope('127.0.0.1', true),
    });
    await res.body.dump();
    expect(attacker.requests.length).toBe(2);
    for (const q of attacker.requests) {
      for (const h of ['authorization', 'cookie', 'proxy-authorization', 'x-custom-auth']) expect(q.headers[h]).toBeUndefined();
    }
  });

  it('keeps every diagnostic the registry sent, not only the first', async () => {
    const s = await serve((_q, res) => {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ errors: [
        { code: 'MANIFEST_INVALID', message: 'manifest invalid' },
        { code: 'BLOB_UNKNOWN', message: `blob unknown to registry: ${sha256('c')}` },
        { code: 'TAG_INVALID', message: 'manifest tag did not match URI' },
      ] }));
    });
    const e = (await openRepository(s.host, 'a/b', base).putManifest('v1', manifest, MediaType.OciManifest).catch((x: unknown) => x)) as { message: string; details: { diagnostics: { code: string }[] } };
    expect(e.message).toContain('MANIFEST_INVALID: manifest invalid');
    expect(e.message).toContain(`BLOB_UNKNOWN: blob unknown to registry: ${sha256('c')}`);
    expect(e.message).toContain('TAG_INVALID');
    expect(e.message.split('\n')).toHaveLength(1);
    expect(e.details.diagnostics.map((d) => d.code)).toEqual(['MANIFEST_INVALID', 'BLOB_UNKNOWN', 'TAG_INVALID']);
  });

  it('RC-12 refuses redirects to link-local targets and chains over 10 hops', async () => {
    const s = await serve((req, res) => {
      const m = /hop(\d+)/.exec(req.url!);
      res.statusCode = 302;
      if (req.url!.includes('/meta')) res.setHeader('location', 'http://169.254.169.254/latest/meta-data');
      else res.setHeader('location', `/v2/a/b/manifests/hop${m ? Number(m[1]) + 1 : 1}`);
      res.end();
    });
    const r = openRepository(s.host, 'a/b', base);
    await expect(r.getManifest('meta')).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('link-local') });
    await expect(r.getManifest('start')).rejects.toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('more than 10') });
    expect(s.requests.filter((q) => q.url.includes('/manifests/')).length).toBeLessThanOrEqual(12);
  });

  it('RC-14 foreign URLs are off by default; when on, no credentials are sent and the digest is checked', async () => {
    let attackerBody = blob;
    const attacker = await serve((req, res) => {
      if (req.headers.authorization === undefined && req.url!.includes('challenge')) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', `Bearer realm="http://${req.headers.host}/token"`);
        return void res.end();
      }
      res.end(attackerBody);
    }, '127.0.0.2');
    const reg = await serve((req, res) => {
      if (!req.headers.authorization) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', 'Basic realm="r"');
        return void res.end();
      }
      res.statusCode = 404;
      res.end();
    });
    const desc = { ...blobDesc, mediaType: MediaType.OciLayerNondistributableGzip, urls: [`${attacker.url}/challenge/layer`, `${attacker.url}/layer`] };
    const creds = { username: 'u', password: 'p' };
    await expect(openRepository(reg.host, 'a/b', { ...base, credentials: creds }).getBlob(desc)).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(attacker.requests.length).toBe(0);
    const on = openRepository(reg.host, 'a/b', { ...base, credentials: creds, allowForeignUrls: true });
    expect((await readAll(await on.getBlob(desc))).equals(blob)).toBe(true);
    expect(attacker.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    expect(attacker.requests.some((q) => q.url.startsWith('/token'))).toBe(false);
    attackerBody = randomBytes(blob.length);
    await expect(on.getBlob(desc).then(readAll)).rejects.toMatchObject({ code: 'EINTEGRITY' });
  });

  it('RC-15 drops invalid tags from the registry and follows Link pagination', async () => {
    const pages: Record<string, { tags: string[]; next?: string }> = {
      '': { tags: ['v1', '../../x', 'a'.repeat(300)], next: '/v2/a/b/tags/list?n=3&last=v1' },
      v1: { tags: ['tag\n', 'v2', 'v1'], next: '/v2/a/b/tags/list?n=3&last=v2' },
      v2: { tags: ['v3'] },
    };
    const s = await serve((req, res) => {
      const u = new URL(req.url!, 'http://x');
      const p = pages[u.searchParams.get('last') ?? '']!;
      if (p.next) res.setHeader('link', `<${p.next}>; rel="next"`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'a/b', tags: p.tags }));
    });
    expect(await openRepository(s.host, 'a/b', base).listTags({ pageSize: 3 })).toEqual(['v1', 'v2', 'v3']);
    expect(s.requests.filter((q) => q.url.includes('/tags/list')).length).toBe(3);
    const evil = await serve((_q, res) => {
      res.setHeader('content-type', MediaType.OciManifest);
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: 'sha256:../../x', size: 1 }, layers: [] }));
    });
    await expect(openRepository(evil.host, 'a/b', base).getManifest('v1')).rejects.toMatchObject({ code: 'EINVALID' });
  });

  it('RC-17 recovers a chunked push from a dropped PATCH and a 416, and surfaces a rejected digest', async () => {
    let stored = Buffer.alloc(0);
    let patches = 0;
    let finalStatus = 201;
    const s = await serve((req, res, body) => {
      const loc = '/v2/a/b/blobs/uploads/u1';
      if (req.method === 'POST') {
        stored = Buffer.alloc(0);
        res.statusCode = 202;
        res.setHeader('location', loc);
        return void res.end();
      }
      if (req.method === 'PATCH') {
        patches++;
        const start = Number(/^(\d+)-/.exec(String(req.headers['content-range']))![1]);
        if (patches === 2) {
          stored = Buffer.concat([stored, body.subarray(0, 1000)]);
          return void res.destroy(); // dropped mid-chunk after the server kept 1000 bytes
        }
        if (patches === 4 || start !== stored.length) {
          res.statusCode = 416;
          return void res.end();
        }
        stored = Buffer.concat([stored, body]);
        res.statusCode = 202;
        res.setHeader('location', loc);
        res.setHeader('range', `0-${stored.length - 1}`);
        return void res.end();
      }
      if (req.method === 'GET' && req.url!.startsWith(loc)) {
        res.statusCode = 204;
        res.setHeader('location', loc);
        res.setHeader('range', `0-${stored.length - 1}`);
        return void res.end();
      }
      if (req.method === 'PUT') {
        const d = new URL(req.url!, 'http://x').searchParams.get('digest');
        if (finalStatus !== 201 || d !== sha256(stored)) {
          res.statusCode = 400;
          return void res.end(JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }] }));
        }
        res.statusCode = 201;
        return void res.end();
      }
      res.statusCode = 404;
      res.end();
    });
    const r = openRepository(s.host, 'a/b', { ...base, uploadChunkSize: 30_000 });
    await r.putBlob(blobDesc, Readable.from([blob]));
    expect(stored.equals(blob)).toBe(true);
    expect(s.requests.filter((q) => q.method === 'GET' && q.url.includes('/uploads/')).length).toBe(2);
    finalStatus = 400;
    await expect(r.putBlob(blobDesc, Readable.from([blob]))).rejects.toMatchObject({ code: 'EINTEGRITY', message: expect.stringContaining('DIGEST_INVALID') });
  });

  it('RC-19 keeps tokens and passwords out of errors and logs; one scope-upgrade retry on insufficient_scope', async () => {
    const token = 'SECRET-TOKEN-abc123';
    const seenScopes: string[][] = [];
    let upgraded = 0;
    const s = await serve((req, res) => {
      if (req.url!.startsWith('/token')) {
        seenScopes.push(new URL(req.url!, 'http://x').searchParams.getAll('scope'));
        return void res.end(JSON.stringify({ token: `${token}-${seenScopes.length}`, expires_in: 300 }));
      }
      const auth = req.headers.authorization;
      const challenge = `Bearer realm="http://${req.headers.host}/token",service="svc"`;
      if (auth === undefined) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', challenge);
        return void res.end();
      }
      if (req.url!.includes('/upgrade') && !seenScopes.some((x) => x.includes('repository:other/repo:pull'))) {
        upgraded++;
        res.statusCode = 401;
        res.setHeader('www-authenticate', `${challenge},scope="repository:other/repo:pull",error="insufficient_scope"`);
        return void res.end();
      }
      if (req.url!.includes('/never')) {
        res.statusCode = 401;
        res.setHeader('www-authenticate', `${challenge},scope="repository:x/y:pull",error="insufficient_scope"`);
        return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: `token ${auth} rejected` }] }));
      }
      res.statusCode = 500;
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `boom with ${auth}` }] }));
    });
    const lines: string[] = [];
    const r = openRepository(s.host, 'a/b', { ...base, retryTimes: 0, credentials: { username: 'u', password: 'hunter2pw' }, debug: (l) => lines.push(l) });
    const e1 = (await r.getManifest('x').catch((x: Error) => x)) as Error;
    await r.getManifest('upgrade').catch(() => {});
    expect(upgraded).toBe(1);
    expect(seenScopes.at(-1)).toEqual(expect.arrayContaining(['repository:a/b:pull', 'repository:other/repo:pull']));
    const before = s.requests.filter((q) => q.url.includes('/never')).length;
    const e2 = (await r.getManifest('never').catch((x: Error) => x)) as Error & { code: string };
    expect(e2.code).toBe('EPERM');
    expect(s.requests.filter((q) => q.url.includes('/never')).length - before).toBe(2);
    const all = [e1.message, e2.message, ...lines].join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain('hunter2pw');
    expect(all).not.toContain(Buffer.from('u:hunter2pw').toString('base64'));
  });

  it('RC-20 bounds concurrency per host and shares one 429 backoff across requests', async () => {
    let first429At = 0;
    const s = await serve((req, res) => {
      if (req.url!.includes('/blobs/') && first429At === 0 && req.url!.includes('0000000000000007')) {
        first429At = Date.now();
        res.statusCode = 429;
        res.setHeader('retry-after', '1');
        return void res.end();
      }
      setTimeout(() => {
        res.setHeader('content-length', '5');
        res.end();
      }, 15);
    });
    const r = openRepository(s.host, 'a/b', { ...base, maxConcurrentPerHost: 4 });
    const digests = Array.from({ length: 60 }, (_, i) => `sha256:${i.toString().padStart(64, '0')}` as Digest);
    const t0 = Date.now();
    const sizes = await Promise.all(digests.map((d) => r.headBlob(d)));
    expect(sizes.every((x) => x === 5)).toBe(true);
    expect(s.peak).toBeLessThanOrEqual(4);
    expect(first429At).toBeGreaterThan(0);
    const during = s.requests.filter((q) => q.url.includes('/blobs/') && q.at > first429At + 5 && q.at < first429At + 900);
    expect(during.length).toBeLessThanOrEqual(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });
});
