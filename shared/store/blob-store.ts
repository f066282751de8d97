import { randomBytes } from 'node:crypto';
import { constants as C } from 'node:fs';
import { chmod, link, lstat, mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { DigestingStream, digestHex, isDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { fsyncDir } from './atomic.ts';
import { isLender, type BlobLender } from '../oci/blob-lender.ts';
import { writeLent } from './write-lent.ts';
import { parseBlobRef, type BlobRef } from './descriptor.ts';
import { parseSize } from '../oci/validate.ts';
import { checkDocumentSize, MAX_DOCUMENT_BYTES } from '../oci/document-size.ts';

/** Default cap for JSON blobs (manifests, indexes, configs), as containers/image's iolimits. */
export const JSON_BLOB_CAP = MAX_DOCUMENT_BYTES;

/** Options of a blob store. */
export interface BlobStoreOptions {
  /** The calling process's private temp dir, on the same filesystem as the blobs (rename must not cross devices). */
  tempDir: (o: Cancellable) => Promise<string>;
  /**
   * Wraps the commit step of put(): the store passes a function that takes the shared gc lock and records
   * the digest in this process's lease before `commit` runs (see store.ts for the race reasoning).
   */
  guard?: <T>(digest: Digest, commit: () => Promise<T>, o: Cancellable) => Promise<T>;
}

/** Options of reads. */
export interface OpenOptions {
  signal?: AbortSignal;
  /** Verify digest and size at EOF (default true). Only skip when the caller hashes the bytes itself. */
  verify?: boolean;
}

function abortError(signal: AbortSignal | undefined, e: unknown): unknown {
  if (signal?.aborted || (e as { name?: string })?.name === 'AbortError') {
    return new SkiffError('EABORT', 'operation cancelled', { cause: e });
  }
  return e;
}

/**
 * The content-addressed blobs of one OCI layout: `<layout>/blobs/sha256/<hex>`.
 *
 * Contract (as umoci's oci/cas and cacache):
 * - Every path is built from a digest that went through parseDigest first; nothing else names a file.
 * - Writes are atomic and idempotent: bytes stream into a temp file in the writer's private temp dir (same
 *   filesystem), are hashed while they flow, verified against the expectation, fsynced, made read-only
 *   (0444) and hard-linked into place. link(2) never overwrites, so two concurrent writers of one digest both
 *   succeed and the first committed file stays. A mismatch stores nothing and removes the temp.
 * - Reads are verified: open() returns a stream that fails at EOF (EINTEGRITY / EBADSIZE) — or as soon as
 *   too many bytes arrive — when the file does not match the descriptor. Symlinks are never followed.
 */
export class BlobStore {
  /** `<layout>/blobs` */
  readonly dir: string;
  readonly #opts: BlobStoreOptions;

  constructor(layoutDir: string, opts: BlobStoreOptions) {
    this.dir = join(layoutDir, 'blobs');
    this.#opts = opts;
  }

  /** The file of digest `d`; `d` is validated first (EINVALID / EUNSUPPORTED for anything but sha256:<64 hex>). */
  path(d: string): string {
    return join(this.dir, 'sha256', digestHex(parseDigest(d)));
  }

  /** Size of the committed blob, or undefined when absent. Not verified (see open / verify). */
  async stat(d: string, _o: Cancellable = {}): Promise<{ size: number } | undefined> {
    const p = this.path(d);
    try {
      const st = await lstat(p);
      if (!st.isFile()) throw new SkiffError('ELAYOUT', `blob ${d} is not a regular file`, { hint: 'run `run-tool system check --repair` to remove the damaged image' });
      return { size: st.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** True when a blob with digest `d` is committed (and, with `size`, has that size). */
  async has(d: string, size?: number, o: Cancellable = {}): Promise<boolean> {
    const st = await this.stat(d, o);
    return st !== undefined && (size === undefined || st.size === size);
  }

  /**
   * Opens a committed blob for reading. With verify (the default) the stream hashes what it yields and fails
   * with EINTEGRITY / EBADSIZE at EOF — or early when more than `size` bytes arrive. ENOTFOUND when absent.
   */
  async open(desc: { digest: string; size?: number }, o: OpenOptions = {}): Promise<Readable> {
    throwIfAborted(o.signal);
    const p = this.path(desc.digest);
    const digest = desc.digest as Digest;
    const size = desc.size === undefined ? undefined : parseSize(desc.size, `size of ${digest}`);
    let fh;
    try {
      fh = await open(p, C.O_RDONLY | C.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new SkiffError('ENOTFOUND', `blob ${digest} not found`, { cause: e });
      if (code === 'ELOOP') throw new SkiffError('EUNSAFE', `blob ${digest} is a symlink; refusing to follow it`, { cause: e });
      throw e;
    }
    // 1 MiB reads: a layer streams through in a few hundred thread-pool round trips, not thousands
    const rs = fh.createReadStream({ highWaterMark: 1 << 20, signal: o.signal });
    if (o.verify === false) return rs;
    const ds = new DigestingStream(size === undefined ? { digest } : { digest, size });
    rs.on('error', (e) => ds.destroy(abortError(o.signal, e) as Error));
    ds.on('close', () => rs.destroy());
    rs.pipe(ds);
    return ds;
  }

  /** Reads a whole blob into memory, verified; refuses blobs over `cap` bytes (ELIMIT) and reads at most cap+1. */
  async readBytes(desc: { digest: string; size?: number }, o: { signal?: AbortSignal; cap?: number } = {}): Promise<Buffer> {
    const cap = o.cap ?? JSON_BLOB_CAP;
    if (desc.size !== undefined && parseSize(desc.size) > cap) {
      throw new SkiffError('ELIMIT', `blob ${desc.digest} is ${desc.size} bytes, over the ${cap}-byte limit for manifests and configs`);
    }
    const rs = await this.open(desc, o.signal ? { signal: o.signal } : {});
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of rs as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > cap) throw new SkiffError('ELIMIT', `blob ${desc.digest} is over the ${cap}-byte limit for manifests and configs`);
        chunks.push(c);
      }
    } catch (e) {
      rs.destroy();
      throw abortError(o.signal, e);
    }
    return Buffer.concat(chunks, n);
  }

  /** readBytes + JSON.parse; EINVALID when the blob is not JSON. */
  async readJson<T = unknown>(desc: { digest: string; size?: number }, o: { signal?: AbortSignal; cap?: number } = {}): Promise<T> {
    const bytes = await this.readBytes(desc, o);
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (e) {
      throw new SkiffError('EINVALID', `blob ${desc.digest} is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Stores a blob (bytes, a stream, or a lent blob: each lent chunk hashed and written before it is returned);
   * see the class comment for the guarantees. With `expect`, the content must hash to
   * expect.digest and be exactly expect.size bytes (EINTEGRITY / EBADSIZE naming expected and actual; more
   * than `size` bytes fail at once). Returns the digest and size computed from the bytes, never the caller's.
   */
  async put(body: Readable | Uint8Array | BlobLender, expect?: { digest: string; size: number }, o: Cancellable = {}): Promise<BlobRef> {
    // The body may fail while we set up (temp dir, lock): hold its first error until pipeline() owns it, so an
    // early failure is this call's rejection and never an unhandled 'error' event.
    let early: unknown;
    const onEarly = (e: unknown): void => {
      early ??= e;
    };
    if (!(body instanceof Uint8Array) && !isLender(body)) body.on('error', onEarly);
    let tmp: string;
    let fh: Awaited<ReturnType<typeof open>>;
    const exp = expect === undefined ? undefined : parseBlobRef(expect, 'expected');
    try {
      throwIfAborted(o.signal);
      tmp = join(await this.#opts.tempDir(o), `blob-${randomBytes(8).toString('hex')}`);
      fh = await open(tmp, 'wx', 0o600);
    } catch (e) {
      if (isLender(body)) body.cancel();
      else if (!(body instanceof Uint8Array)) body.destroy();
      throw e;
    }
    let committed = false;
    try {
      let ref: BlobRef;
      if (isLender(body)) ref = await writeLent(body, fh, exp, o.signal);
      else {
        if (!(body instanceof Uint8Array)) body.off('error', onEarly);
        if (early !== undefined) throw early;
        const ds = new DigestingStream(exp);
        const src = body instanceof Uint8Array ? Readable.from([body]) : body;
        // flush: fsync before the stream closes the handle (a committed blob must survive a crash). 512 KiB queued:
        // a 1 MiB queue holds socket chunks long enough to outlive the periodic scavenge (buffer-gc.ts), so they
        // pile up until a full GC (+6 MB peak RSS on a cold copy); 256 KiB measured slower (fewer chunks per write).
        const ws = fh.createWriteStream({ flush: true, highWaterMark: 1 << 19 });
        try {
          await pipeline(src, ds, ws, o.signal ? { signal: o.signal } : {});
        } catch (e) {
          throw abortError(o.signal, e);
        }
        ref = { digest: ds.result, size: ds.size };
      }
      await chmod(tmp, 0o444);
      const commit = (): Promise<void> => this.#commit(tmp, ref);
      if (this.#opts.guard) await this.#opts.guard(ref.digest, commit, o);
      else await commit();
      committed = true;
      return ref;
    } finally {
      await fh.close().catch(() => {});
      if (!committed) await rm(tmp, { force: true });
    }
  }

  /** link(tmp → final) without overwrite; an existing blob of the wrong size (a damaged file) is replaced. */
  async #commit(tmp: string, ref: BlobRef): Promise<void> {
    const final = this.path(ref.digest);
    const dir = join(this.dir, 'sha256');
    try {
      try {
        await link(tmp, final);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          await link(tmp, final);
        } else if (code === 'EEXIST') {
          const st = await lstat(final);
          if (!st.isFile() || st.size !== ref.size) await rename(tmp, final); // ours is verified; theirs is damaged
        } else throw e;
      }
      await fsyncDir(dir);
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  /**
   * Stores JSON (a value is serialised; bytes are stored exactly as given, so their digest is preserved); refuses
   * documents over MAX_DOCUMENT_BYTES (ELIMIT) before writing anything.
   */
  async putJson(value: unknown, o: Cancellable = {}): Promise<BlobRef> {
    const bytes = value instanceof Uint8Array ? value : Buffer.from(JSON.stringify(value));
    checkDocumentSize(bytes, 'the JSON document');
    return this.put(bytes, undefined, o);
  }

  /** Every committed sha256 blob (names that are not 64 lowercase hex are skipped, never touched). */
  async list(o: Cancellable = {}): Promise<Digest[]> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, 'sha256'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    throwIfAborted(o.signal);
    return names.map((n) => `sha256:${n}`).filter(isDigest);
  }

  /** Removes a committed blob (gc only); returns the bytes freed, 0 when it was already gone. Not guarded. */
  async delete(d: string): Promise<number> {
    const p = this.path(d);
    try {
      const st = await lstat(p);
      // a directory (or other non-file) under a blob name is damage; removing it is all gc can do with it
      if (st.isDirectory()) await rm(p, { recursive: true, force: true });
      else await unlink(p);
      return st.isFile() ? st.size : 0;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }
}
