import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { lineStart, SkiffError } from '../errors.ts';

/** A validated sha256 digest: `sha256:` + exactly 64 lowercase hex characters. */
export type Digest = `sha256:${string}` & { readonly __brand: 'Digest' };

const SHA256_RE = /^sha256:[a-f0-9]{64}$/;
// image-spec descriptor grammar: algorithm ":" encoded
const DIGEST_GRAMMAR_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** True when `s` is a valid sha256 digest (the only algorithm skiff stores). */
export function isDigest(s: unknown): s is Digest {
  return typeof s === 'string' && SHA256_RE.test(s);
}

/**
 * Validates a digest string before it is used to build any path or URL.
 * Well-formed digests of other algorithms are EUNSUPPORTED; anything else is EINVALID.
 */
export function parseDigest(s: unknown, what = 'digest'): Digest {
  if (isDigest(s)) return s;
  const shown = typeof s === 'string' ? JSON.stringify(lineStart(s, 100)) : String(s);
  if (typeof s === 'string' && DIGEST_GRAMMAR_RE.test(s) && !s.startsWith('sha256:')) {
    throw new SkiffError('EUNSUPPORTED', `unsupported ${what} algorithm in ${shown}: only sha256 is supported`);
  }
  throw new SkiffError('EINVALID', `invalid ${what} ${shown}: expected sha256: followed by 64 lowercase hex characters`);
}

/** The 64-character hex part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice(7);
}

/** Digest of an in-memory byte string (manifests, configs: never layers). */
export function digestOf(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
}

/** Incremental sha256 that also counts bytes. */
export class Digester {
  #hash: Hash = createHash('sha256');
  size = 0;
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
  }
  digest(): Digest {
    return `sha256:${this.#hash.digest('hex')}` as Digest;
  }
}

/**
 * A Digester held to an expectation: `update` throws EBADSIZE as soon as more than `expect.size` bytes came, and
 * `finish` returns the digest of everything, throwing EBADSIZE / EINTEGRITY (naming both values) when the size or
 * the digest differs from what was expected.
 */
export class CheckedDigester extends Digester {
  readonly #expect: { digest?: Digest; size?: number } | undefined;
  constructor(expect?: { digest?: Digest; size?: number }) {
    super();
    this.#expect = expect;
  }
  override update(chunk: Uint8Array): void {
    super.update(chunk);
    const size = this.#expect?.size;
    if (size !== undefined && this.size > size) throw sizeMismatch(size, this.size, true);
  }
  finish(): Digest {
    const actual = this.digest();
    const e = this.#expect;
    if (e?.size !== undefined && this.size !== e.size) throw sizeMismatch(e.size, this.size, false);
    if (e?.digest !== undefined && actual !== e.digest) throw digestMismatch(e.digest, actual);
    return actual;
  }
}

/**
 * A pass-through stream that hashes and counts the bytes flowing through it.
 * With `expect`, it fails the stream at EOF (EINTEGRITY / EBADSIZE) instead of ending cleanly, and fails
 * early with EBADSIZE as soon as more bytes than the expected size have passed.
 */
export class DigestingStream extends Transform {
  readonly digester: CheckedDigester;
  #result: Digest | undefined;

  constructor(expect?: { digest?: Digest; size?: number }) {
    super();
    this.digester = new CheckedDigester(expect);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.digester.update(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.#result = this.digester.finish();
    } catch (e) {
      cb(e as Error);
      return;
    }
    cb();
  }

  /** The digest of everything that passed; available after the stream ended. */
  get result(): Digest {
    if (this.#result === undefined) throw new Error('DigestingStream.result read before end');
    return this.#result;
  }

  get size(): number {
    return this.digester.size;
  }
}

/** The error for content whose digest differs from the expected one; names both. */
export function digestMismatch(expected: Digest, actual: Digest): SkiffError {
  return new SkiffError('EINTEGRITY', `digest mismatch: expected ${expected}, got ${actual}`, {
    details: { expected, actual },
    hint: 'the content is corrupt or was changed; fetch or write it again',
  });
}

/** The error for content whose length differs from the expected size. */
export function sizeMismatch(expected: number, actual: number, atLeast: boolean): SkiffError {
  return new SkiffError('EBADSIZE', `size mismatch: expected ${expected} bytes, got ${atLeast ? 'more than ' + expected : actual}`, {
    details: { expected, actual },
  });
}
