import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openRepository, BULK_MIN_BYTES } from '../../../shared/registry/repository.ts';
import { bulkGet, parseResponseHead } from '../../../shared/registry/bulk-get.ts';
import { safeLookup } from '../../../shared/registry/safe-lookup.ts';
import { bulkConnectFor } from '../../../shared/registry/tls.ts';
import type { BlobLender } from '../../../shared/oci/blob-lender.ts';
import type { Digest } from '../../../shared/oci/digest.ts';
import { trickle, type FaultServer } from '../../helpers/fault-server.ts';
import { basicAuthRedirectRoute, faultRegistrySuite, truncatingBlobRoute } from '../../helpers/fault-registry.ts';
import { sha256 } from '../../helpers/registry.ts';

// Large blobs read through lendBlob: a bulk GET on a connection of its own, lent from one reused buffer. The
// registry-client guarantees of getBlob (RC-01, RC-06, RC-08, RC-11) must hold on this path too.

const { base, serve } = faultRegistrySuite('skiff-lend-');

const blob = randomBytes(BULK_MIN_BYTES + 123_457);
const desc = { digest: sha256(blob) as Digest, size: blob.length };
const blobGets = (s: FaultServer) => s.requests.filter((q) => q.url.includes('/blobs/'));

/** Lends the blob into a sink that copies what it is lent (the lent memory is reused); resolves with the bytes. */
async function lendAll(l: BlobLender | undefined, onChunk?: (c: Buffer) => void): Promise<Buffer> {
  if (!l) throw new Error('nothing lent');
  const parts: Buffer[] = [];
  await l.lend(async (c) => {
    onChunk?.(c);
    parts.push(Buffer.from(c));
    await new Promise((r) => setImmediate(r)); // an asynchronous sink, as a file write is
  });
  return Buffer.concat(parts);
}

describe('lendBlob (bulk GET)', () => {
  it('lends exactly the blob, in large chunks, over a connection of its own; small blobs are not lent', async () => {
    const s = await serve((_q, res) => {
      res.setHeader('content-length', blob.length);
      res.end(blob);
    });
    const r = openRepository(s.host, 'a/b', base);
    let largest = 0;
    const got = await lendAll(await r.lendBlob(desc), (c) => (largest = Math.max(largest, c.length)));
    expect(got.equals(blob)).toBe(true);
    expect(largest).toBeGreaterThan(64 << 10); // not the 64 KiB pieces of a stream socket
    const q = blobGets(s);
    expect(q).toHaveLength(1);
    expect(q[0]!.headers.connection).toBe('close');
    expect(await r.lendBlob({ digest: sha256('x') as Digest, size: 1 })).toBeUndefined();
    expect(await r.lendBlob({ ...desc, urls: ['http://127.0.0.1:1/x'] })).toBeUndefined();
  });

  it('RC-01 rejects lent bytes that differ from the digest (+1, −1, other bytes) naming both digests', async () => {
    for (const body of [Buffer.concat([blob, Buffer.from('x')]), blob.subarray(1), randomBytes(blob.length)]) {
      // the server declares the length of what it sends: the check is the client's, not the framing's
      const s = await serve((_q, res) => {
        res.setHeader('content-length', body.length);
        res.end(body);
      });
      const e: unknown = await openRepository(s.host, 'a/b', base)
        .lendBlob(desc)
        .then((l) => lendAll(l))
        .catch((x: unknown) => x);
      expect(['EINTEGRITY', 'EBADSIZE']).toContain((e as { code: string }).code);
      if ((e as { code: string }).code === 'EINTEGRITY') {
        expect((e as Error).message).toContain(desc.digest);
        expect((e as Error).message).toContain(sha256(body));
      }
    }
  });

  it('RC-01 bytes past the Content-Length are never lent (refused when they come with the body)', async () => {
    const s = await serve((_q, res) => {
      // a raw answer whose body runs past the length it declares
      res.socket!.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${blob.length}\r\n\r\n`), blob, Buffer.from('extra')]));
    });
    let lent = 0;
    const r: unknown = await openRepository(s.host, 'a/b', { ...base, retryTimes: 0, maxResumes: 0 })
      .lendBlob(desc)
      .then((l) => lendAll(l, (c) => (lent += c.length)))
      .catch((x: unknown) => x);
    // reading stops at the declared length: the extra bytes fail the read when they share its last receive, and
    // are never read when they come after it
    if (Buffer.isBuffer(r)) expect(r.equals(blob)).toBe(true);
    else expect(r).toMatchObject({ code: 'EIO', message: expect.stringContaining('more than its Content-Length') });
    expect(lent).toBeLessThanOrEqual(blob.length);
  });

  it('RC-06 resumes a truncated lent blob only from a 206 starting where it stopped', async () => {
    const cut = Math.floor(blob.length * 0.6);
    const mk = (mode: 'good' | 'full200' | 'wrongrange') => serve(truncatingBlobRoute(blob, cut, mode));
    const good = await mk('good');
    const got = await lendAll(await openRepository(good.host, 'a/b', base).lendBlob(desc));
    expect(got.equals(blob)).toBe(true);
    expect(blobGets(good).map((q) => q.headers.range)).toEqual([undefined, `bytes=${cut}-`]);
    for (const mode of ['full200', 'wrongrange'] as const) {
      const s = await mk(mode);
      const out: Buffer[] = [];
      const e = await openRepository(s.host, 'a/b', base)
        .lendBlob(desc)
        .then((l) => lendAll(l, (c) => out.push(Buffer.from(c))))
        .catch((x: Error) => x);
      expect(e).toMatchObject({ code: 'EIO', message: expect.stringContaining('cannot resume') });
      expect(Buffer.concat(out).equals(blob.subarray(0, cut))).toBe(true); // nothing spliced
    }
  });

  it('RC-08 a stalled lent body times out; an AbortSignal cancels it', async () => {
    const s = await serve(async (_q, res) => {
      res.setHeader('content-length', blob.length);
      return trickle(res, blob, 1, 1000, 5000);
    });
    const t0 = Date.now();
    const r = openRepository(s.host, 'a/b', { ...base, headersTimeout: 300, bodyTimeout: 300, retryTimes: 0, maxResumes: 0 });
    await expect(r.lendBlob(desc).then((l) => lendAll(l))).rejects.toMatchObject({ code: 'EIO', message: expect.stringContaining('stalled') });
    expect(Date.now() - t0).toBeLessThan(4000);
    const ac = new AbortController();
    const r2 = openRepository(s.host, 'a/b', base);
    const l = await r2.lendBlob(desc, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(lendAll(l)).rejects.toMatchObject({ code: 'EABORT' });
  });

  it('RC-11 strips credentials on a cross-origin redirect of a lent blob; the presigned fetch is lent', async () => {
    const storage = await serve((_q, res) => {
      res.setHeader('content-length', blob.length);
      res.end(blob);
    }, '127.0.0.2');
    const reg = await serve(basicAuthRedirectRoute(`${storage.url}/bucket/blob?X-Amz-Signature=abc`));
    const r = openRepository(reg.host, 'a/b', { ...base, credentials: { username: 'u', password: 'p' } });
    expect((await lendAll(await r.lendBlob(desc))).equals(blob)).toBe(true);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    expect(blobGets(reg).at(-1)!.headers.authorization).toBe('Basic dTpw');
  });

  it('a response not framed by a Content-Length (chunked) is fetched again through the pooled client', async () => {
    const s = await serve((_q, res) => {
      res.write(blob.subarray(0, 1000)); // no content-length: node answers chunked
      res.end(blob.subarray(1000));
    });
    const got = await lendAll(await openRepository(s.host, 'a/b', base).lendBlob(desc));
    expect(got.equals(blob)).toBe(true);
    expect(blobGets(s)).toHaveLength(2);
  });

  it('a sink error stops the delivery and is not retried', async () => {
    const s = await serve((_q, res) => {
      res.setHeader('content-length', blob.length);
      res.end(blob);
    });
    const l = await openRepository(s.host, 'a/b', base).lendBlob(desc);
    await expect(
      l!.lend(() => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(blobGets(s)).toHaveLength(1);
  });

  it('refuses a malformed or oversized response head and a header value that would split the request', async () => {
    const connect = { rejectUnauthorized: true, lookup: safeLookup() };
    const o = { connect, headersTimeout: 5000, bodyTimeout: 5000 };
    const bad = await serve((_q, res) => void res.socket!.end('HTTP/1.1 200 OK\r\n folded: header\r\ncontent-length: 1\r\n\r\nx'));
    await expect(bulkGet(new URL(`${bad.url}/x`), {}, o)).rejects.toMatchObject({ code: 'HPE_INVALID_HEADER_TOKEN' });
    const huge = await serve((_q, res) => void res.socket!.end(`HTTP/1.1 200 OK\r\nx-pad: ${'a'.repeat(70 << 10)}\r\ncontent-length: 1\r\n\r\nx`));
    await expect(bulkGet(new URL(`${huge.url}/x`), {}, o)).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_OVERFLOW' });
    await expect(bulkGet(new URL(`${bad.url}/x`), { authorization: 'Bearer a\r\nx-injected: 1' }, o)).rejects.toMatchObject({ code: 'ERR_INVALID_HTTP_TOKEN' });
    expect(bad.requests).toHaveLength(1); // the refused header never went out
  });

  it('parses a response head as HTTP/1.1 says: status, lower-cased names, repeated headers kept', () => {
    expect(parseResponseHead('HTTP/1.1 307 Temporary Redirect\r\nLocation: /a\r\nSet-Cookie: a\r\nset-cookie: b')).toEqual({
      statusCode: 307,
      headers: { location: '/a', 'set-cookie': ['a', 'b'] },
    });
    expect(parseResponseHead('HTTP/2 200 OK')).toBeUndefined();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nbad header: x')).toBeUndefined();
  });

  it('over TLS, with the lend starting late and a slow sink, every byte arrives once and in order', async () => {
    const dir = mkdtempSync(join(process.env.SKIFF_TEST_TMP ?? '/dev/shm', 'skiff-lend-tls-'));
    const [key, cert] = [join(dir, 'tls.key'), join(dir, 'tls.crt')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const srv = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (_q, res) => {
      res.setHeader('content-length', blob.length);
      res.end(blob);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    try {
      const url = new URL(`https://127.0.0.1:${(srv.address() as AddressInfo).port}/blob`);
      const o = { connect: { rejectUnauthorized: true, ca: [await readFile(cert, 'utf8')], lookup: safeLookup() }, headersTimeout: 5000, bodyTimeout: 5000 };
      // late: TLS keeps delivering what it decrypted after reading paused
      const late = await bulkGet(url, {}, o);
      await new Promise((r) => setTimeout(r, 50));
      const parts: Buffer[] = [];
      await late!.body.lend(async (c) => {
        parts.push(Buffer.from(c));
        await new Promise((r) => setTimeout(r, 1));
      });
      expect(Buffer.concat(parts).equals(blob)).toBe(true);
      // read ahead by the stream machinery first (as maybeReadMore does), then lent
      const ahead = await bulkGet(url, {}, o);
      ahead!.body.read(0);
      await new Promise((r) => setTimeout(r, 20));
      expect((await lendAll({ lend: (s) => ahead!.body.lend(s), cancel: () => {} })).equals(blob)).toBe(true);
      // consumed as a stream
      const streamed = await bulkGet(url, {}, o);
      const chunks: Buffer[] = [];
      for await (const c of streamed!.body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(blob)).toBe(true);
    } finally {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a body that stalls before its first use fails that use, not the process', async () => {
    const s = await serve((_q, res) => {
      res.setHeader('content-length', blob.length);
      res.write(blob.subarray(0, 1000)); // and nothing more
    });
    const o = { connect: { rejectUnauthorized: true, lookup: safeLookup() }, headersTimeout: 5000, bodyTimeout: 50 };
    const url = new URL(`${s.url}/blob`);
    const lent = await bulkGet(url, {}, o);
    await new Promise((r) => setTimeout(r, 150)); // timed out meanwhile, nobody listening yet
    await expect(lent!.body.lend(() => {})).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
    const streamed = await bulkGet(url, {}, o);
    await new Promise((r) => setTimeout(r, 150));
    await expect((async () => {
      for await (const _ of streamed!.body) void _;
    })()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
  });

  it('a configured proxy sends every GET through the proxy agent: no bulk connections', () => {
    const tls = { rejectUnauthorized: true };
    expect(bulkConnectFor(tls, {})).toMatchObject({ rejectUnauthorized: true, lookup: expect.any(Function) });
    for (const v of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) expect(bulkConnectFor(tls, { [v]: 'http://127.0.0.1:3128' })).toBeUndefined();
  });
});
