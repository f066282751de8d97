import { randomBytes } from 'node:crypto';
import { constants as C } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError, type Cancellable } from '../errors.ts';
import { DigestingStream, type Digest } from '../oci/digest.ts';
import { detectManifestMediaType } from '../oci/validate.ts';
import { MAX_DOCUMENT_BYTES } from '../oci/document-size.ts';
import type { Descriptor } from '../oci/types.ts';

/** Largest manifest, index or config a transport reads into memory (containers/image iolimits). */
export const DOCUMENT_CAP = MAX_DOCUMENT_BYTES;

/**
 * `body` piped through a DigestingStream that fails at EOF (EINTEGRITY / EBADSIZE) unless the bytes match
 * `desc`; errors of `body` propagate. The result is what a source's getBlob must return.
 */
export function verifying(body: Readable, desc: Pick<Descriptor, 'digest' | 'size'>): Readable {
  const ds = new DigestingStream({ digest: desc.digest, size: desc.size });
  body.on('error', (e) => ds.destroy(e));
  // a short body can end (and fail its check) before the caller has attached its pipeline: the error stays on the
  // stream (errored), which a later pipeline or read reports, instead of crashing the process as unhandled
  ds.on('error', () => {});
  ds.once('close', () => {
    if (!body.destroyed) body.destroy();
  });
  return body.pipe(ds);
}

function mapAbort(e: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted || (e as { name?: string })?.name === 'AbortError') return new SkiffError('EABORT', 'operation cancelled', { cause: e });
  return e;
}

/**
 * Streams `body` to `path` atomically: into a temp file beside it, hashed while the bytes flow, checked
 * against `expect` (nothing is left behind on mismatch or failure), fsynced, then renamed into place.
 * Returns the digest and size computed from the bytes.
 */
export async function writeFileVerified(
  path: string,
  body: Readable,
  expect?: { digest?: Digest; size?: number },
  o: { signal?: AbortSignal; mode?: number } = {},
): Promise<{ digest: Digest; size: number }> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  let fh;
  try {
    fh = await open(tmp, 'wx', o.mode ?? 0o644);
  } catch (e) {
    body.destroy();
    throw e;
  }
  const ds = new DigestingStream(expect);
  let ok = false;
  try {
    await pipeline(body, ds, fh.createWriteStream({ flush: true, highWaterMark: 1 << 20 }), o.signal ? { signal: o.signal } : {}).catch((e) => {
      throw mapAbort(e, o.signal);
    });
    await rename(tmp, path);
    ok = true;
    return { digest: ds.result, size: ds.size };
  } finally {
    await fh.close().catch(() => {});
    if (!ok) await rm(tmp, { force: true });
  }
}

/** Opens a regular file for reading without following a symlink at its last component (EUNSAFE if it is one). */
export async function openNoFollow(path: string, what: string, o: Cancellable = {}): Promise<Readable> {
  let fh;
  try {
    fh = await open(path, C.O_RDONLY | C.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SkiffError('ENOTFOUND', `${what} not found (${path})`, { cause: e });
    if (code === 'ELOOP') throw new SkiffError('EUNSAFE', `${what} is a symlink; refusing to follow it (${path})`, { cause: e });
    throw e;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new SkiffError('EINVALID', `${what} is not a regular file (${path})`);
  }
  return fh.createReadStream(o.signal ? { signal: o.signal } : {});
}

/** Reads a small regular file (manifest, config, marker) with a size cap (ELIMIT above it); no symlinks. */
export async function readSmallFile(path: string, what: string, cap = DOCUMENT_CAP, o: Cancellable = {}): Promise<Buffer> {
  const rs = await openNoFollow(path, what, o);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of rs as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > cap) {
      rs.destroy();
      throw new SkiffError('ELIMIT', `${what} is larger than the limit of ${cap} bytes (${path})`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, n);
}

/** The media type a manifest body declares or looks like; '' when it cannot tell (callers validate later). */
export function sniffMediaType(bytes: Uint8Array): string {
  return detectManifestMediaType(bytes) ?? '';
}
