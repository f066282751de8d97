import { Readable } from 'node:stream';
import { SkiffError, isSkiffError } from '../errors.ts';
import { CheckedDigester, sizeMismatch, type Digest } from '../oci/digest.ts';
import { headerValue, networkError, type RawResponse } from './http.ts';
import { lendStream, type BlobLender } from '../oci/blob-lender.ts';
import type { BulkBody } from './bulk-get.ts';

/** Opens the blob again from `offset` (a Range request when > 0). */
export type BlobOpener = (offset: number, signal?: AbortSignal) => Promise<RawResponse>;

/** True when a 206's Content-Range is exactly `bytes <offset>-<size-1>/<size or *>` (RC-06). */
export function contentRangeMatches(value: string | undefined, offset: number, size: number): boolean {
  if (value === undefined) return false;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (!m) return false;
  return Number(m[1]) === offset && Number(m[2]) === size - 1 && (m[3] === '*' || Number(m[3]) === size);
}

/** How a blob read checks and resumes (verifiedBlobStream, lendVerifiedBlob). */
interface BlobReadOpts {
  maxResumes: number;
  what: string;
  signal?: AbortSignal;
  debug?: (l: string) => void;
  hash?: boolean;
}

/**
 * The state of one blob read across resumes: counts and hashes what arrives, and re-opens a broken body
 * with `Range: bytes=N-` under the RC-06 rules.
 */
class ResumableRead {
  res: RawResponse;
  offset = 0;
  #resumes = 0;
  readonly #digester: CheckedDigester | undefined;
  readonly #expect: { digest: Digest; size: number };
  readonly #reopen: BlobOpener;
  readonly #opts: BlobReadOpts;

  constructor(first: RawResponse, expect: { digest: Digest; size: number }, reopen: BlobOpener, opts: BlobReadOpts) {
    this.res = first;
    this.#expect = expect;
    this.#reopen = reopen;
    this.#opts = opts;
    this.#digester = opts.hash === false ? undefined : new CheckedDigester({ digest: expect.digest });
  }

  /** Accounts one chunk; EBADSIZE once more than the blob's size arrived (RC-01). */
  take(chunk: Uint8Array): void {
    this.offset += chunk.length;
    if (this.offset > this.#expect.size) throw sizeMismatch(this.#expect.size, this.offset, true);
    this.#digester?.update(chunk);
  }

  /** After a body ended: true when the blob is complete; a transient EIO when it ended short. */
  ended(): true {
    if (this.offset === this.#expect.size) return true;
    throw new SkiffError('EIO', `${this.#opts.what}: the body ended after ${this.offset} of ${this.#expect.size} bytes`, { details: { transient: true } });
  }

  /** Handles a body error: re-opens at the current offset when the error is transient and resumes are left, else throws. */
  async broke(e: unknown): Promise<void> {
    const o = this.#opts;
    if (o.signal?.aborted) throw new SkiffError('EABORT', 'operation cancelled', { cause: o.signal.reason });
    const err = isSkiffError(e) ? e : networkError(e, 'GET', this.res.url, o.signal);
    if (!(err.code === 'EIO' && err.details?.transient === true)) throw err;
    this.res.body.destroy();
    if (this.#resumes >= o.maxResumes) {
      throw new SkiffError('EIO', `${o.what}: the download broke after ${this.offset} of ${this.#expect.size} bytes (${this.#resumes} resumes): ${err.message}`, { cause: err });
    }
    this.#resumes++;
    o.debug?.(`${o.what}: resuming at byte ${this.offset} (${err.message})`);
    const res = await this.#reopen(this.offset, o.signal);
    this.res = res;
    const cr = headerValue(res.headers, 'content-range');
    if (res.statusCode !== 206 || !contentRangeMatches(cr, this.offset, this.#expect.size)) {
      res.body.destroy();
      throw new SkiffError('EIO', `${o.what}: cannot resume at byte ${this.offset}: the registry answered ${res.statusCode}${cr ? ` with Content-Range ${cr}` : ''} instead of the requested range`, {
        hint: 'retry the operation; the registry does not support resuming downloads',
      });
    }
  }

  /** At the end: EINTEGRITY when the bytes hash to another digest (not checked with `hash: false`). */
  verify(): void {
    this.#digester?.finish();
  }
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
export function verifiedBlobStream(first: RawResponse, expect: { digest: Digest; size: number }, reopen: BlobOpener, opts: BlobReadOpts): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const r = new ResumableRead(first, expect, reopen, opts);
    try {
      for (;;) {
        try {
          for await (const chunk of r.res.body as AsyncIterable<Buffer>) {
            r.take(chunk);
            yield chunk;
          }
          if (r.ended()) break;
        } catch (e) {
          await r.broke(e);
        }
      }
      r.verify();
    } finally {
      r.res.body.destroy();
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

/**
 * verifiedBlobStream's checks and resumes, delivering into a sink: a body that can lend (a bulk GET's) lends its
 * reused buffer, any other body its own chunks. Errors from the sink are never resumed.
 */
export function lendVerifiedBlob(first: RawResponse, expect: { digest: Digest; size: number }, reopen: BlobOpener, opts: BlobReadOpts): BlobLender {
  const r = new ResumableRead(first, expect, reopen, opts);
  let used = false;
  return {
    async lend(sink) {
      if (used) throw new Error('a blob is lent once');
      used = true;
      let sinkError: { e: unknown } | undefined;
      const sinkFailed = (e: unknown): never => {
        sinkError = { e };
        throw e;
      };
      const take = (chunk: Buffer): void | Promise<void> => {
        r.take(chunk);
        let out: void | Promise<void> = undefined;
        try {
          out = sink(chunk);
        } catch (e) {
          sinkFailed(e);
        }
        return out instanceof Promise ? out.catch(sinkFailed) : out;
      };
      try {
        for (;;) {
          try {
            const body = r.res.body as RawResponse['body'] & { lend?: BulkBody['lend'] };
            await (typeof body.lend === 'function' ? body.lend(take) : lendStream(body as AsyncIterable<Buffer>, take));
            if (r.ended()) break;
          } catch (e) {
            if (sinkError) throw sinkError.e;
            await r.broke(e);
          }
        }
        r.verify();
      } finally {
        r.res.body.destroy();
      }
    },
    cancel() {
      r.res.body.destroy();
    },
  };
}
