import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../errors.ts';
import { digestHex, parseDigest } from '../oci/digest.ts';
import { fsyncDir } from '../store/atomic.ts';
import { readSmallFile } from './files.ts';

/** At most this many signatures are read per image (SG-09). */
const MAX_STORE_SIGNATURES = 100;
/** Largest signature file read (containers/image's limit). */
const MAX_STORE_SIGNATURE_BYTES = 4 * 1024 * 1024;

/**
 * The directory holding the signatures of manifest `digest` in the store at `root`:
 * `<root>/signatures/sha256-<hex>/signature-N` (N from 1; the same blob encoding as dir: — raw OpenPGP bytes for
 * simple signing, `\0sigstore-json\n…` for sigstore). The digest is validated before the path is built (SG-10).
 */
export function storeSignatureDir(root: string, digest: string): string {
  const d = parseDigest(digest, 'manifest digest');
  return join(root, 'signatures', `sha256-${digestHex(d)}`);
}

/** Reads `signature-1…` of a manifest until the first missing one; capped in count and size; [] when none. */
export async function readStoreSignatures(root: string, digest: string, o: Cancellable = {}): Promise<Uint8Array[]> {
  const dir = storeSignatureDir(root, digest);
  const out: Uint8Array[] = [];
  for (let i = 1; ; i++) {
    const p = join(dir, `signature-${i}`);
    if ((await lstat(p).catch(() => undefined)) === undefined) return out;
    if (i > MAX_STORE_SIGNATURES) throw new SkiffError('ELIMIT', `the store holds more than ${MAX_STORE_SIGNATURES} signatures for ${digest}`);
    out.push(await readSmallFile(p, `signature ${i} of ${digest}`, MAX_STORE_SIGNATURE_BYTES, o));
  }
}

/**
 * Replaces the signatures of a manifest atomically: written into a private sibling directory, then swapped in
 * with renames, so readers see the old set or the new one. An empty list removes them.
 */
export async function writeStoreSignatures(root: string, digest: string, blobs: readonly Uint8Array[], o: Cancellable = {}): Promise<void> {
  const dir = storeSignatureDir(root, digest);
  const parent = join(root, 'signatures');
  await mkdir(parent, { recursive: true, mode: 0o755 });
  const work = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
  await mkdir(work, { mode: 0o755 });
  try {
    for (let i = 0; i < blobs.length; i++) await writeFile(join(work, `signature-${i + 1}`), blobs[i]!, o.signal ? { signal: o.signal } : {});
    await fsyncDir(work);
    const old = `${dir}.old-${randomBytes(6).toString('hex')}`;
    const had = await rename(dir, old).then(() => true, () => false);
    if (blobs.length > 0) await rename(work, dir);
    await fsyncDir(parent);
    if (had) await rm(old, { recursive: true, force: true });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
