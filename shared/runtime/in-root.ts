import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SkiffError } from '../errors.ts';

const MAX_SYMLINKS = 40;

/**
 * Resolves `path` inside `root` the way the kernel would if `root` were `/` (chroot semantics): absolute
 * symlink targets restart at `root`, `..` never climbs above it. Returns the host path of the result (which
 * need not exist). Never follows a link out of `root`; ELIMIT after 40 links (a loop).
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = posix.normalize(`/${path}`).split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    if (c === '.') continue;
    const host = join(root, ...done, c);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new SkiffError('ELIMIT', `too many symbolic links resolving ${path} in the image`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    done.push(c);
  }
  return join(root, ...done);
}

/**
 * Reads a small regular file at `path` inside `root` (in-root resolution, then O_NOFOLLOW open and a
 * regular-file check on the opened fd — a device, fifo or directory is refused). Returns undefined when it does
 * not exist; ELIMIT when larger than `maxBytes` (the size is checked on the fd, so a sparse 2 GB file is never
 * read).
 */
export async function readFileInRoot(root: string, path: string, maxBytes: number): Promise<string | undefined> {
  const host = await resolveInRoot(root, path);
  let fh;
  try {
    fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') throw new SkiffError('EUNSAFE', `${path} in the image changed while it was read`);
    throw new SkiffError('EIO', `cannot open ${path} in the image: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SkiffError('EUNSAFE', `${path} in the image is not a regular file`, { hint: 'the image is malformed or hostile' });
    if (st.size > maxBytes) throw new SkiffError('ELIMIT', `${path} in the image is ${st.size} bytes, more than the ${maxBytes}-byte limit`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    await fh.close();
  }
}
