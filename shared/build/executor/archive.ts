/**
 * ADD's local-archive auto-extraction: the format is detected from content by the layer library's magic table
 * (gzip, zstd, bzip2, xz or plain tar — an uncompressed tar has `ustar` at offset 257; a compressed file is an
 * archive only if its decompressed start is a tar). gzip and zstd go through node:zlib, bzip2 and xz through the
 * system's `bzip2 -dc` / `xz -dc`; every one of them runs under the layer library's decompression-bomb limits
 * (LA-16, `limitDecompression`), exactly as a pulled layer does. Extraction reuses the layer library's confined
 * apply (BU-15: `..`, absolute names, links out of the root all stay inside).
 *
 * `ADD --chown=U:G` of an archive gives every extracted entry (files, directories, symlinks, hard links) that owner,
 * as BuildKit does (its unpack lets an explicit --chown override the headers' owners); buildah 1.28 keeps the
 * archive's owners and chowns only the destination directory it creates — build-tool follows BuildKit. `--chmod` is
 * not applied to extracted entries (neither BuildKit nor buildah does): modes come from the archive.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { SkiffError } from '../../errors.ts';
import { applyLayer, ownedBy } from '../../layer/apply.ts';
import { archiveCompressionOfMagic, decompress, limitDecompression, type ArchiveCompression, type DecompressLimits } from '../../layer/compression.ts';

/** A detected archive format: a plain tar or a compressed one. */
export type ArchiveKind = 'tar' | Exclude<ArchiveCompression, 'none'>;

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

/** `prog -dc` as a Duplex: compressed bytes in, decompressed out; a non-zero exit fails the readable side. */
function programDecompressor(prog: 'bzip2' | 'xz'): Duplex {
  const child = spawn(prog, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.on('error', (e) => out.destroy((e as NodeJS.ErrnoException).code === 'ENOENT' ? new SkiffError('ENODEP', `${prog} is needed to extract this archive`) : e));
  child.stdin.on('error', () => {});
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new SkiffError('EINVALID', `${prog} -dc failed: ${err.trim() || `exit ${code}`}`));
  });
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  duplex.once('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return duplex;
}

/** Opens `file` decompressed according to `kind`, under the decompression-bomb limits (defaults unless given). */
export async function openDecompressed(file: string, kind: ArchiveKind, limits?: DecompressLimits): Promise<Readable> {
  const src = createReadStream(file);
  if (kind === 'tar') return src;
  if (kind === 'gzip' || kind === 'zstd') return (await decompress(src, { compression: kind, limits })).stream;
  return limitDecompression(src, programDecompressor(kind), kind, { limits });
}

/** The archive kind of `file`, or undefined when it is not a (possibly compressed) tar. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const b = await head(file, 512);
  const c = archiveCompressionOfMagic(b);
  if (c === 'none') return isTarHeader(b) ? 'tar' : undefined;
  // compressed: an archive only when the decompressed start is a tar header
  const s = await openDecompressed(file, c);
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
  return isTarHeader(first) ? c : undefined;
}

/**
 * Extracts archive `file` into host directory `dest` (a directory inside a container root) with confinement and
 * the decompression-bomb limits (ELIMIT when crossed); `owner` (ADD --chown) replaces every entry's owner, else
 * the archive's owners are kept.
 */
export async function extractArchive(
  file: string,
  kind: ArchiveKind,
  dest: string,
  o: { owner?: { uid: number; gid: number }; signal?: AbortSignal; onWarning?: (m: string) => void; limits?: DecompressLimits } = {},
): Promise<void> {
  await applyLayer(dest, await openDecompressed(file, kind, o.limits), {
    mode: 'merged',
    ...(o.owner && { mapIds: ownedBy(o.owner) }),
    signal: o.signal,
    onWarning: o.onWarning,
  });
}
