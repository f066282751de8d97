import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { SkiffError, throwIfAborted } from '../errors.ts';

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
export async function* readTar(stream: Readable, opts: { signal?: AbortSignal } = {}): AsyncGenerator<TarEntry> {
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
