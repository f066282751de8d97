import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';

/** Entry types skiff reads and writes; anything else in a layer is rejected as EUNSUPPORTED. */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

/**
 * One tar entry's metadata, normalised across ustar, pax and GNU: long names and link names are already
 * applied, pax `mtime`/`uid`/`gid` override the octal fields, and xattrs come from pax
 * `SCHILY.xattr.<name>` (UTF-8 values) or `LIBARCHIVE.xattr.<urlencoded name>` (base64; exact bytes).
 * `name` is the raw archive name: it is NOT sanitised here (apply.ts confines it).
 */
export interface TarHeader {
  name: string;
  type: TarEntryType;
  /** permission bits including setuid/setgid/sticky (0o7777) */
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  size: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  uname?: string;
  gname?: string;
  xattrs: Map<string, Buffer>;
}

/** A tar entry and its body (empty for non-files). The body must be consumed or left: readTar drains it. */
export interface TarEntry {
  header: TarHeader;
  body: Readable;
}

function normaliseHeader(h: tar.Header): TarHeader {
  let type: TarEntryType;
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      type = 'file';
      break;
    case 'directory':
    case 'symlink':
    case 'link':
    case 'character-device':
    case 'block-device':
    case 'fifo':
      type = h.type;
      break;
    default:
      throw new SkiffError('EUNSUPPORTED', `unsupported tar entry type ${JSON.stringify(h.type)} for ${JSON.stringify(h.name)}`);
  }
  const pax = (h.pax ?? {}) as Record<string, string>;
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), Buffer.from(v, 'utf8'));
  }
  // libarchive's form carries exact bytes; it wins over the lossy UTF-8 one
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith('LIBARCHIVE.xattr.')) {
      try {
        xattrs.set(decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length)), Buffer.from(v, 'base64'));
      } catch {
        throw new SkiffError('EINVALID', `malformed xattr name in pax header ${JSON.stringify(k)}`);
      }
    }
  }
  let mtime = h.mtime ?? new Date(0);
  if (pax.mtime !== undefined && Number.isFinite(Number(pax.mtime))) mtime = new Date(Math.floor(Number(pax.mtime) * 1000));
  const num = (paxKey: string, v: number | undefined): number => {
    const p = pax[paxKey];
    if (p !== undefined && /^\d+$/.test(p)) return Number(p);
    return v ?? 0;
  };
  const out: TarHeader = {
    name: h.name,
    type,
    mode: (h.mode ?? 0) & 0o7777,
    uid: num('uid', h.uid),
    gid: num('gid', h.gid),
    mtime,
    size: type === 'file' ? (h.size ?? 0) : 0,
    xattrs,
  };
  if (h.linkname) out.linkname = h.linkname;
  if (type === 'character-device' || type === 'block-device') {
    out.devmajor = h.devmajor ?? 0;
    out.devminor = h.devminor ?? 0;
  }
  if (h.uname) out.uname = h.uname;
  if (h.gname) out.gname = h.gname;
  return out;
}

/**
 * Reads a tar stream entry by entry (ustar, pax, GNU long names/links). Each yielded body must be consumed
 * before asking for the next entry or it is drained automatically. A stream that is not a tar fails with
 * EINVALID; an aborted signal ends the iteration with EABORT. Memory is bounded by one header.
 */
export async function* readTar(stream: Readable, opts: Cancellable = {}): AsyncGenerator<TarEntry> {
  const extract = tar.extract();
  // the source may have failed before we were called (e.g. a small layer whose diffID check ran already)
  if (stream.errored) throw stream.errored;
  if (stream.destroyed && !stream.readableEnded) throw new SkiffError('EIO', 'layer stream was closed before it was read');
  stream.on('error', (e) => extract.destroy(e));
  if (stream.readableEnded) (extract as unknown as NodeJS.WritableStream).end();
  else stream.pipe(extract);
  const it = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      throwIfAborted(opts.signal);
      let r: IteratorResult<AsyncIterable<unknown> & { header: tar.Header }>;
      try {
        r = await it.next();
      } catch (e) {
        if (e instanceof SkiffError) throw e;
        if (stream.errored) throw stream.errored;
        throw new SkiffError('EINVALID', `layer is not a valid tar archive: ${(e as Error).message}`, { cause: e });
      }
      if (r.done) break;
      const source = r.value;
      const header = normaliseHeader(source.header);
      // tar-stream entries are streamx streams: expose a node Readable over the same iterator
      const body = Readable.from(source, { objectMode: false });
      yield { header, body };
      if (!body.readableEnded && !body.destroyed) for await (const _ of body) void _;
    }
  } finally {
    if (!extract.destroyed) {
      stream.unpipe(extract);
      extract.destroy();
    }
  }
}

/** The body of an entry handed to forEachTarEntry's callback. */
export interface TarBody {
  /**
   * Calls `onChunk` synchronously for each chunk of the body, in order; resolves at the body's end. A throw
   * from `onChunk` rejects (later chunks are ignored); so does a failure of the tar stream. Call at most once.
   */
  forEachChunk(onChunk: (chunk: Buffer) => void): Promise<void>;
}

/** Callback of forEachTarEntry: return a promise to hold the next entry back until it settles. */
export type TarEntryHandler = (header: TarHeader, body: TarBody) => void | Promise<void>;

const noop = (): void => {};

/**
 * Calls `onEntry` for each entry of a tar stream, strictly one at a time: the next entry is parsed only once
 * the callback (and its promise, if it returns one) is done. A body the callback does not read is skipped.
 * Same formats, normalisation and errors as readTar (a stream that is not a tar fails with EINVALID, a failed
 * source with the source's error, an aborted signal with EABORT); an error thrown by the callback rejects
 * as it is. The returned promise never settles while a callback is still running, so on failure nothing
 * touches the caller's files after the rejection. Memory is bounded by one header and one chunk.
 * Cheaper than readTar per entry (no generator, no Node Readable per body).
 */
export function forEachTarEntry(stream: Readable, onEntry: TarEntryHandler, opts: Cancellable = {}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stream.errored) return reject(stream.errored);
    if (stream.destroyed && !stream.readableEnded) return reject(new SkiffError('EIO', 'layer stream was closed before it was read'));
    const extract = tar.extract();
    let busy = false; // a callback is running
    let ended = false; // the parser finished
    let failure: unknown;
    let settled = false;
    const settle = (): void => {
      if (settled || busy) return;
      if (failure === undefined && !ended) return;
      settled = true;
      stream.off('error', onSourceError);
      opts.signal?.removeEventListener('abort', onAbort);
      if (failure !== undefined) reject(failure);
      else resolve();
    };
    const fail = (e: unknown): void => {
      if (failure === undefined) failure = e;
      stream.unpipe(extract);
      if (!extract.destroyed) extract.destroy();
      settle();
    };
    const onSourceError = (e: Error): void => fail(stream.errored ?? e);
    const onAbort = (): void => fail(new SkiffError('EABORT', 'operation cancelled', { cause: opts.signal?.reason }));
    stream.on('error', onSourceError);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    extract.on('error', (e: Error) => {
      if (e instanceof SkiffError) fail(e);
      else if (stream.errored) fail(stream.errored);
      else fail(new SkiffError('EINVALID', `layer is not a valid tar archive: ${e.message}`, { cause: e }));
    });
    extract.on('finish', () => {
      ended = true;
      settle();
    });
    extract.on('close', () => {
      if (!ended) fail(stream.errored ?? new SkiffError('EIO', 'layer stream ended before the tar did'));
    });
    extract.on('entry', (raw, source, next) => {
      if (failure !== undefined) return;
      source.on('error', noop);
      let consumed = false;
      const body: TarBody = {
        forEachChunk(onChunk) {
          consumed = true;
          return new Promise<void>((res, rej) => {
            let done = false;
            source.on('data', (c: unknown) => {
              if (done) return;
              try {
                onChunk(c as Buffer);
              } catch (e) {
                done = true;
                rej(e);
              }
            });
            source.on('end', () => {
              if (!done) (done = true), res();
            });
            source.on('close', () => {
              if (!done) (done = true), rej(failure ?? stream.errored ?? new SkiffError('EIO', `tar entry ${JSON.stringify(raw.name)} was cut short`));
            });
          });
        },
      };
      const after = (): void => {
        busy = false;
        if (failure !== undefined) return settle();
        if (!consumed) source.resume(); // skip the body
        next();
      };
      const failed = (e: unknown): void => {
        busy = false;
        fail(e);
      };
      busy = true;
      let r: void | Promise<void>;
      try {
        throwIfAborted(opts.signal);
        r = onEntry(normaliseHeader(raw), body);
      } catch (e) {
        return failed(e);
      }
      if (r) r.then(after, failed);
      else after();
    });
    if (stream.readableEnded) (extract as unknown as NodeJS.WritableStream).end();
    else stream.pipe(extract as unknown as NodeJS.WritableStream);
  });
}
