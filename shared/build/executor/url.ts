/**
 * `ADD <url>` downloads (BU-16): only http and https, on every redirect hop too (at most 10); unspecified,
 * link-local (cloud metadata) and reserved addresses refused in every spelling (shared/registry/host-class.ts); a size cap enforced from Content-Length and while streaming; the body stored as
 * sent (Content-Encoding is never decoded, so a compression bomb stays a small file); `--checksum` verified.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { loadUndici } from '../../registry/undici-lazy.ts';
import { SkiffError } from '../../errors.ts';

/** Default cap on one ADD download: 4 GiB. */
export const DEFAULT_ADD_MAX_BYTES = 4 * 1024 ** 3;

/** What a download produced. */
export interface Download {
  sha256: string;
  size: number;
  /** the file name from the final URL's path */
  name: string;
  lastModified?: Date;
}

/** Refuses what ADD never fetches: other schemes, and hosts the one address classifier says are never contacted. */
function checkUrl(u: URL, classifyHost: (host: string) => string): void {
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SkiffError('EUNSAFE', `ADD only downloads http and https URLs, not ${u.protocol}`);
  const cls = classifyHost(u.host);
  if (cls === 'unspecified' || cls === 'link-local' || cls === 'reserved') throw new SkiffError('EUNSAFE', `ADD refuses the ${cls} address ${u.hostname}`);
}

/** Downloads `url` to `file`, verifying `checksum` (`sha256:…`, `sha384:…`, `sha512:…`) when given. */
export async function download(url: string, file: string, o: { checksum?: string; maxBytes?: number; signal?: AbortSignal } = {}): Promise<Download> {
  const max = o.maxBytes ?? DEFAULT_ADD_MAX_BYTES;
  let u = new URL(url);
  // loaded here, like the HTTP client, so a build that downloads nothing loads no registry code
  const { classifyHost } = await import('../../registry/host-class.ts');
  for (let hop = 0; hop <= 10; hop++) {
    checkUrl(u, classifyHost);
    const res = await (await loadUndici()).request(u, { method: 'GET', signal: o.signal, headers: { 'accept-encoding': 'identity' } });
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
      await res.body.dump();
      u = new URL(String(res.headers.location), u);
      continue;
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new SkiffError('EIO', `ADD ${u.href}: HTTP ${res.statusCode}`);
    }
    const len = Number(res.headers['content-length'] ?? NaN);
    if (Number.isFinite(len) && len > max) {
      res.body.destroy();
      throw new SkiffError('ELIMIT', `ADD ${u.href}: ${len} bytes is more than the ${max}-byte limit`);
    }
    const sha = createHash('sha256');
    const alg = o.checksum?.split(':')[0];
    const extra = alg && alg !== 'sha256' ? createHash(alg) : undefined;
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _e, cb) {
        size += chunk.length;
        if (size > max) return cb(new SkiffError('ELIMIT', `ADD ${u.href}: more than the ${max}-byte limit`));
        sha.update(chunk);
        extra?.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(res.body, count, createWriteStream(file, { mode: 0o600 }), o.signal ? { signal: o.signal } : {});
    const sha256 = sha.digest('hex');
    if (o.checksum) {
      const got = `${alg}:${extra ? extra.digest('hex') : sha256}`;
      if (got !== o.checksum) throw new SkiffError('EINTEGRITY', `ADD ${u.href}: checksum mismatch: expected ${o.checksum}, got ${got}`);
    }
    const lm = res.headers['last-modified'];
    const d: Download = { sha256, size, name: posix.basename(decodeURIComponent(u.pathname)) || 'index.html' };
    if (typeof lm === 'string' && !Number.isNaN(Date.parse(lm))) d.lastModified = new Date(lm);
    return d;
  }
  throw new SkiffError('ELIMIT', `ADD ${url}: too many redirects`);
}
