import { Readable } from 'node:stream';
import { SkiffError, isSkiffError } from '../errors.ts';
import { Digester, digestMismatch, sizeMismatch, type Digest } from '../oci/digest.ts';
import { headerValue, networkError, type RawResponse } from './http.ts';

/** Opens the blob again from `offset` (a Range request when > 0). */
export type BlobOpener = (offset: number, signal?: AbortSignal) => Promise<RawResponse>;

/** True when a 206's Content-Range is exactly `bytes <offset>-<size-1>/<size or *>` (RC-06). */
export function contentRangeMatches(value: string | undefined, offset: number, size: number): boolean {
  if (value === undefined) return false;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (!m) return false;
  return Number(m[1]) === offset && Number(m[2]) === size - 1 && (m[3] === '*' || Number(m[3]) === size);
}

/**
 * A stream of a blob's bytes, hashed while they flow and checked at EOF: it errors (EINTEGRITY / EBADSIZE)
 * instead of ending when the bytes differ from `expect`, and fails early once more than `size` bytes arrive
 * (RC-01). When the body breaks (reset, premature end, stall timeout) it re-opens with `Range: bytes=N-` and
 * continues only on a 206 whose Content-Range starts exactly at N and ends at size−1 (never splices a 200 or
 * another range onto what was sent; at most `maxResumes` times) (RC-06). Destroying the stream cancels the
 * request. `first` must be a 200 response. `hash: false` (the consumer verifies the digest itself) skips the
 * digest but keeps every size check.
 */
export function verifiedBlobStream(
  first: RawResponse,
  expect: { digest: Digest; size: number },
  reopen: BlobOpener,
  opts: { maxResumes: number; what: string; signal?: AbortSignal; debug?: (l: string) => void; hash?: boolean },
): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const digester = opts.hash === false ? undefined : new Digester();
    let res = first;
    let offset = 0;
    let resumes = 0;
    try {
      for (;;) {
        try {
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            offset += chunk.length;
            if (offset > expect.size) throw sizeMismatch(expect.size, offset, true);
            digester?.update(chunk);
            yield chunk;
          }
          if (offset === expect.size) break;
          throw new SkiffError('EIO', `${opts.what}: the body ended after ${offset} of ${expect.size} bytes`, { details: { transient: true } });
        } catch (e) {
          if (opts.signal?.aborted) throw new SkiffError('EABORT', 'operation cancelled', { cause: opts.signal.reason });
          const err = isSkiffError(e) ? e : networkError(e, 'GET', res.url, opts.signal);
          if (!(err.code === 'EIO' && err.details?.transient === true)) throw err;
          res.body.destroy();
          if (resumes >= opts.maxResumes) {
            throw new SkiffError('EIO', `${opts.what}: the download broke after ${offset} of ${expect.size} bytes (${resumes} resumes): ${err.message}`, { cause: err });
          }
          resumes++;
          opts.debug?.(`${opts.what}: resuming at byte ${offset}`);
          res = await reopen(offset, opts.signal);
          const cr = headerValue(res.headers, 'content-range');
          if (res.statusCode !== 206 || !contentRangeMatches(cr, offset, expect.size)) {
            res.body.destroy();
            throw new SkiffError('EIO', `${opts.what}: cannot resume at byte ${offset}: the registry answered ${res.statusCode}${cr ? ` with Content-Range ${cr}` : ''} instead of the requested range`, {
              hint: 'retry the operation; the registry does not support resuming downloads',
            });
          }
        }
      }
      if (digester) {
        const actual = digester.digest();
        if (actual !== expect.digest) throw digestMismatch(expect.digest, actual);
      }
    } finally {
      res.body.destroy();
    }
  }
  return Readable.from(gen(), { objectMode: false });
}
