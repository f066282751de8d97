/**
 * ADD's local-archive auto-extraction: the format is detected from content (gzip, bzip2, xz or plain tar — an
 * uncompressed tar has `ustar` at offset 257; a compressed file is an archive only if its decompressed start is a
 * tar). gzip goes through node:zlib; bzip2 and xz through the system's `bzip2 -dc` / `xz -dc`. Extraction reuses the
 * layer library's confined apply (BU-15: `..`, absolute names, links out of the root all stay inside).
 *
 * `ADD --chown=U:G` of an archive gives every extracted entry (files, directories, symlinks, hard links) that owner,
 * as BuildKit does (its unpack lets an explicit --chown override the headers' owners); buildah 1.28 keeps the
 * archive's owners and chowns only the destination directory it creates — build-tool follows BuildKit. `--chmod` is
 * not applied to extracted entries (neither BuildKit nor buildah does): modes come from the archive.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SkiffError } from '../../shared/errors.ts';
import { applyLayer, ownedBy } from '../../shared/layer/apply.ts';

/** A detected archive format. */
export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz';

async function head(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function isTarHeader(b: Buffer): boolean {
  return b.length >= 263 && b.subarray(257, 262).toString('latin1') === 'ustar';
}

/** Opens `file` decompressed according to `kind`. */
export function openDecompressed(file: string, kind: ArchiveKind): Readable {
  const src = createReadStream(file);
  if (kind === 'tar') return src;
  if (kind === 'gzip') {
    const g = createGunzip();
    src.on('error', (e) => g.destroy(e));
    return src.pipe(g);
  }
  const prog = kind === 'bzip2' ? 'bzip2' : 'xz';
  const child = spawn(prog, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.on('error', (e) => out.destroy((e as NodeJS.ErrnoException).code === 'ENOENT' ? new SkiffError('ENODEP', `${prog} is needed to extract this archive`) : e));
  child.stdin.on('error', () => {});
  src.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new SkiffError('EINVALID', `${prog} -dc failed: ${err.trim() || `exit ${code}`}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return out;
}

/** The archive kind of `file`, or undefined when it is not a (possibly compressed) tar. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const b = await head(file, 512);
  let kind: ArchiveKind | undefined;
  if (b[0] === 0x1f && b[1] === 0x8b) kind = 'gzip';
  else if (b.subarray(0, 3).toString('latin1') === 'BZh') kind = 'bzip2';
  else if (b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) kind = 'xz';
  else return isTarHeader(b) ? 'tar' : undefined;
  // compressed: an archive only when the decompressed start is a tar header
  const s = openDecompressed(file, kind);
  const first = await new Promise<Buffer>((res) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const done = () => {
      s.destroy();
      res(Buffer.concat(chunks));
    };
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= 512) done();
    });
    s.on('end', done);
    s.on('error', done);
  });
  return isTarHeader(first) ? kind : undefined;
}

/**
 * Extracts archive `file` into host directory `dest` (a directory inside a container root) with confinement;
 * `owner` (ADD --chown) replaces every entry's owner, else the archive's owners are kept.
 */
export async function extractArchive(file: string, kind: ArchiveKind, dest: string, o: { owner?: { uid: number; gid: number }; signal?: AbortSignal; onWarning?: (m: string) => void } = {}): Promise<void> {
  await applyLayer(dest, openDecompressed(file, kind), {
    mode: 'merged',
    ...(o.owner && { mapIds: ownedBy(o.owner) }),
    ...(o.signal && { signal: o.signal }),
    ...(o.onWarning && { onWarning: o.onWarning }),
  });
}
