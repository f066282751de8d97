import { createReadStream } from 'node:fs';
import { link, lstat, mkdir } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { readTar } from '../layer/tar-read.ts';
import { writeFileVerified } from './files.ts';

/**
 * The archive-relative form of a tar member name (`./a//b` → `a/b`), or EUNSAFE when it is absolute, climbs
 * out with `..`, or is empty. Names are only ever joined below the extraction root after this check.
 */
export function archiveMemberName(raw: string, archive: string): string {
  const n = posix.normalize(raw.replace(/^(\.\/)+/, ''));
  const clean = n.replace(/\/+$/, '');
  if (raw.includes('\0') || clean === '' || clean === '.' || posix.isAbsolute(raw) || clean === '..' || clean.startsWith('../')) {
    throw new SkiffError('EUNSAFE', `archive ${archive} has an unsafe member name ${JSON.stringify(raw.slice(0, 200))}`);
  }
  return clean;
}

/** Options of extractArchive. */
export interface ExtractOptions {
  /** Resolve symlink members to hard links of the regular member they name (docker save de-duplicates layers so). */
  symlinks?: 'reject' | 'link';
  /** Largest number of members (LS-16); default 100000. */
  maxEntries?: number;
  signal?: AbortSignal;
}

/**
 * Streams a tar archive (an oci-archive or docker-archive file) into `dest`, an empty private directory. Only
 * regular files and directories are created; member names are confined (archiveMemberName); symlinks are
 * rejected or, with `symlinks: 'link'`, resolved lexically inside the archive and materialised as hard links
 * after the stream ends (a link out of the archive or to a missing member is EUNSAFE / EINVALID). Devices,
 * fifos and hard links are EUNSUPPORTED. Never buffers a member in memory.
 */
export async function extractArchive(file: string, dest: string, o: ExtractOptions = {}): Promise<void> {
  const max = o.maxEntries ?? 100_000;
  const links: { name: string; target: string }[] = [];
  const src = createReadStream(file);
  const so = { signal: o.signal };
  let n = 0;
  try {
    for await (const { header, body } of readTar(src, so)) {
      throwIfAborted(o.signal);
      if (++n > max) throw new SkiffError('ELIMIT', `archive ${file} has more than ${max} members`);
      const name = archiveMemberName(header.name, file);
      const path = join(dest, name);
      if (header.type === 'directory') {
        await mkdir(path, { recursive: true, mode: 0o700 });
      } else if (header.type === 'file') {
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await writeFileVerified(path, body, { size: header.size }, so);
      } else if (header.type === 'symlink' && o.symlinks === 'link') {
        const target = header.linkname ?? '';
        const resolved = posix.isAbsolute(target) ? target.slice(1) : posix.join(posix.dirname(name), target);
        links.push({ name, target: archiveMemberName(resolved, file) });
      } else {
        throw new SkiffError('EUNSUPPORTED', `archive ${file} has a ${header.type} member ${JSON.stringify(header.name)}; only files and directories are allowed`);
      }
    }
  } finally {
    src.destroy();
  }
  // Materialise links whose target is a regular member; repeat for chains (a -> b -> file). What is left is a
  // cycle or a link to nothing (LS-16): refused, never followed forever.
  let pending = links;
  while (pending.length > 0) {
    const next: typeof links = [];
    for (const l of pending) {
      const st = await lstat(join(dest, l.target)).catch(() => undefined);
      if (!st?.isFile()) {
        next.push(l);
        continue;
      }
      await mkdir(dirname(join(dest, l.name)), { recursive: true, mode: 0o700 });
      await link(join(dest, l.target), join(dest, l.name));
    }
    if (next.length === pending.length) {
      const l = next[0]!;
      if (next.some((x) => x.name === l.target)) throw new SkiffError('ELIMIT', `archive ${file}: symlinks ${l.name} and ${l.target} form a cycle`);
      throw new SkiffError('EINVALID', `archive ${file}: symlink ${l.name} points at ${l.target}, which is not a regular member`);
    }
    pending = next;
  }
}
