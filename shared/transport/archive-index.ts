import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import { constants as C } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { isSkiffError, SkiffError, throwIfAborted } from '../errors.ts';
import { archiveMemberName } from './extract.ts';

/** One member of a tar archive: where its bytes are in the file. */
export interface ArchiveMember {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'other';
  /** Byte offset of the member's data in the archive file. */
  offset: number;
  size: number;
  linkname?: string;
}

/** Limits of an archive index: members (LS-16) and symlink hops. */
export interface ArchiveIndexOptions {
  maxEntries?: number;
  maxLinkHops?: number;
  signal?: AbortSignal;
}

const BLOCK = 512;
const MAX_META = 1 << 20; // a GNU long name or PAX header larger than this is not a real archive

function cstring(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const z = s.indexOf(0);
  return (z < 0 ? s : s.subarray(0, z)).toString('utf8');
}

function numeric(b: Buffer, start: number, len: number, file: string): number {
  const f = b.subarray(start, start + len);
  if (f[0]! & 0x80) {
    // base-256 (GNU): big-endian, first byte's top bit set
    let v = f[0]! & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    if (!Number.isSafeInteger(v)) throw new SkiffError('ELIMIT', `${file}: a tar member size is too large`);
    return v;
  }
  const s = cstring(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new SkiffError('EINVALID', `${file} is not a valid tar archive (bad number field)`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  const want = cstring(h, 148, 8).trim();
  return want !== '' && parseInt(want, 8) === sum;
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10);
    if (!(len > 0) || i + len > data.length) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * The members of a tar archive that is a regular file, found by reading only the headers (each member's data is
 * skipped by seeking), so a multi-gigabyte `docker save` archive is indexed in milliseconds and its layers are
 * read in place, never copied to a temp dir. Understands ustar, GNU long names and PAX `path`/`linkpath`/`size`.
 * Member names are confined (archiveMemberName: EUNSAFE for absolute or climbing names); links are resolved
 * lexically inside the archive with a hop limit (ELIMIT on a cycle). The file handle stays open until close().
 */
export class ArchiveIndex {
  readonly file: string;
  readonly #fh: FileHandle;
  readonly #members: Map<string, ArchiveMember>;
  readonly #maxHops: number;

  private constructor(file: string, fh: FileHandle, members: Map<string, ArchiveMember>, maxHops: number) {
    this.file = file;
    this.#fh = fh;
    this.#members = members;
    this.#maxHops = maxHops;
  }

  /**
   * Opens and indexes `file` (EINVALID when it is not a tar archive). Undefined when `file` is not a regular file
   * (a pipe such as /dev/stdin, a device): such input can only be streamed. Such a path is never opened here.
   */
  static async open(file: string, o: ArchiveIndexOptions = {}): Promise<ArchiveIndex | undefined> {
    // decide by the path first: opening (and closing) a fifo would disturb its writer
    if (!(await stat(file)).isFile()) return undefined;
    const fh = await open(file, C.O_RDONLY | C.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        return undefined;
      }
      const members = await indexMembers(fh, file, st.size, o);
      const ix = new ArchiveIndex(file, fh, members, o.maxLinkHops ?? 16);
      // every link must end at a regular member (LS-16: a cycle or a dangling link is refused up front)
      for (const m of members.values()) {
        if (m.type !== 'symlink' && m.type !== 'link') continue;
        try {
          ix.resolve(m.name);
        } catch (e) {
          if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) {
            throw new SkiffError('EINVALID', `${file}: link ${JSON.stringify(m.name)} does not lead to a regular file in the archive`);
          }
          throw e;
        }
      }
      return ix;
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  /** The regular-file member `name` is (or links to, resolved inside the archive); ENOTFOUND when absent. */
  resolve(name: string): ArchiveMember {
    let cur = archiveMemberName(name, this.file);
    for (let hops = 0; hops <= this.#maxHops; hops++) {
      const m = this.#members.get(cur);
      if (!m) throw new SkiffError('ENOTFOUND', `${this.file} has no member ${JSON.stringify(name)}`);
      if (m.type === 'file') return m;
      if (m.type === 'symlink') {
        const t = m.linkname ?? '';
        cur = archiveMemberName(posix.isAbsolute(t) ? t.slice(1) : posix.join(posix.dirname(cur), t), this.file);
      } else if (m.type === 'link') {
        cur = archiveMemberName(m.linkname ?? '', this.file);
      } else {
        throw new SkiffError('EINVALID', `${this.file}: member ${JSON.stringify(name)} is not a regular file`);
      }
    }
    throw new SkiffError('ELIMIT', `${this.file}: member ${JSON.stringify(name)} is a link cycle or a chain longer than ${this.#maxHops}`);
  }

  /** The bytes of member `name`, at most `cap` (ELIMIT beyond: LS-16). */
  async readSmall(name: string, what: string, cap: number): Promise<Buffer> {
    const m = this.resolve(name);
    if (m.size > cap) throw new SkiffError('ELIMIT', `${what} is larger than the limit of ${cap} bytes (${this.file})`);
    const b = Buffer.alloc(m.size);
    const { bytesRead } = await this.#fh.read(b, 0, m.size, m.offset);
    if (bytesRead !== m.size) throw new SkiffError('EINVALID', `${this.file} is truncated inside ${JSON.stringify(name)}`);
    return b;
  }

  /** A stream of member `name`'s bytes read in place (several may be open at once). */
  stream(name: string): Readable {
    const m = this.resolve(name);
    // positional reads on the shared handle; fs streams are not used because destroying one closes its fd
    return Readable.from(readRange(this.#fh, m.offset, m.size, this.file), { objectMode: false });
  }

  /** The member's size (after resolving links). */
  size(name: string): number {
    return this.resolve(name).size;
  }

  /** Closes the archive file. Idempotent. */
  async close(): Promise<void> {
    await this.#fh.close().catch(() => {});
  }
}

async function* readRange(fh: FileHandle, offset: number, size: number, file: string): AsyncGenerator<Buffer> {
  const CHUNK = 1 << 20;
  for (let done = 0; done < size; ) {
    const n = Math.min(CHUNK, size - done);
    const b = Buffer.allocUnsafe(n);
    const { bytesRead } = await fh.read(b, 0, n, offset + done);
    if (bytesRead === 0) throw new SkiffError('EINVALID', `${file} is truncated`);
    done += bytesRead;
    yield bytesRead === n ? b : b.subarray(0, bytesRead);
  }
}

async function indexMembers(fh: FileHandle, file: string, fileSize: number, o: ArchiveIndexOptions): Promise<Map<string, ArchiveMember>> {
  const max = o.maxEntries ?? 100_000;
  const members = new Map<string, ArchiveMember>();
  const h = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  const readData = async (at: number, size: number): Promise<Buffer> => {
    if (size > MAX_META) throw new SkiffError('ELIMIT', `${file}: a tar metadata record is larger than ${MAX_META} bytes`);
    const b = Buffer.alloc(size);
    const { bytesRead } = await fh.read(b, 0, size, at);
    if (bytesRead !== size) throw new SkiffError('EINVALID', `${file} is truncated`);
    return b;
  };
  for (;;) {
    throwIfAborted(o.signal);
    const { bytesRead } = await fh.read(h, 0, BLOCK, pos);
    if (bytesRead === 0) break; // no end-of-archive blocks: accepted, as tar does
    if (bytesRead < BLOCK) throw new SkiffError('EINVALID', `${file} is truncated (a partial tar header)`);
    if (h.every((x) => x === 0)) break;
    if (!checksumOk(h)) throw new SkiffError('EINVALID', `${file} is not a valid tar archive (bad header checksum at byte ${pos})`);
    const flag = String.fromCharCode(h[156]!);
    let size = numeric(h, 124, 12, file);
    const data = pos + BLOCK;
    const next = (sz: number) => data + Math.ceil(sz / BLOCK) * BLOCK;
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      const d = await readData(data, size);
      if (flag === 'L') longName = cstring(d, 0, d.length);
      else if (flag === 'K') longLink = cstring(d, 0, d.length);
      else if (flag === 'x') pax = paxRecords(d);
      pos = next(size);
      continue;
    }
    const magic = h.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? cstring(h, 345, 155) : '';
    const raw = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    const linkname = pax.get('linkpath') ?? longLink ?? cstring(h, 157, 100);
    if (pax.has('size')) size = Number(pax.get('size'));
    if (!Number.isSafeInteger(size) || size < 0) throw new SkiffError('EINVALID', `${file}: invalid tar member size`);
    longName = undefined;
    longLink = undefined;
    pax = new Map();
    if (members.size >= max) throw new SkiffError('ELIMIT', `archive ${file} has more than ${max} members`);
    const oldStyleDir = raw.endsWith('/') && (flag === '0' || flag === '\0');
    if ((flag === '5' || oldStyleDir) && ['', '.'].includes(raw.replace(/\/+$/, ''))) {
      pos = next(0); // the archive's root directory entry (`./`): nothing to index
      continue;
    }
    const name = archiveMemberName(raw, file);
    const type: ArchiveMember['type'] = oldStyleDir
      ? 'directory'
      : flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'directory' : flag === '2' ? 'symlink' : flag === '1' ? 'link' : 'other';
    const bodySize = type === 'file' ? size : 0;
    if (type === 'file' && data + size > fileSize) throw new SkiffError('EINVALID', `${file} is truncated inside ${JSON.stringify(raw)}`);
    // a link must name something inside the archive, referenced or not (EUNSAFE otherwise)
    if (type === 'symlink') archiveMemberName(posix.isAbsolute(linkname) ? linkname.slice(1) : posix.join(posix.dirname(name), linkname), file);
    if (type === 'link') archiveMemberName(linkname, file);
    members.set(name, { name, type, offset: data, size: bodySize, ...(type === 'symlink' || type === 'link' ? { linkname } : {}) });
    pos = next(type === 'file' || type === 'other' ? size : 0);
  }
  return members;
}
