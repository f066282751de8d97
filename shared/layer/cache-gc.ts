import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { isDigest, type Digest } from '../oci/digest.ts';
import { INDEX_MEDIA_TYPES } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { parseAnyManifest, parseImageConfig } from '../oci/validate.ts';
import type { Layout } from '../store/layout.ts';
import { acquireLock } from '../store/lock.ts';
import { removePath } from './confined-root.ts';
import { chainIDs } from './unpack-cache.ts';

const HEX64 = /^[a-f0-9]{64}$/;
const MAX_DEPTH = 8;

/**
 * The chain IDs of every image reachable from `roots` (index entries, or manifest digests such as those a
 * container's lease holds): indexes are followed (depth-limited), each image manifest's config gives its
 * diff_ids and so its chain IDs. Missing or unreadable blobs are skipped (their layers cannot be recomputed
 * anyway; keeping nothing for them is safe because a missing image cannot be run). Read-only.
 */
export async function chainIDsOfImages(layout: Layout, roots: readonly Pick<Descriptor, 'digest' | 'mediaType'>[], o: Cancellable = {}): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  const seen = new Set<string>();
  const visit = async (d: Pick<Descriptor, 'digest' | 'mediaType'>, depth: number): Promise<void> => {
    throwIfAborted(o.signal);
    if (seen.has(d.digest) || depth > MAX_DEPTH) return;
    seen.add(d.digest);
    let bytes: Buffer;
    try {
      bytes = await layout.blobs.readBytes({ digest: d.digest }, { ...o, cap: 4 << 20 });
    } catch (e) {
      if (isSkiffError(e)) return;
      throw e;
    }
    let m;
    try {
      m = parseAnyManifest(bytes, INDEX_MEDIA_TYPES.has(d.mediaType) || d.mediaType.includes('manifest') ? { mediaType: d.mediaType } : {});
    } catch {
      return; // a config or layer digest held by a lease: not a manifest
    }
    if (m.kind === 'index') {
      for (const c of m.index.manifests) await visit(c, depth + 1);
      return;
    }
    if (m.kind !== 'manifest') return;
    try {
      const cfg = parseImageConfig(await layout.blobs.readBytes(m.manifest.config, { ...o }));
      for (const c of chainIDs(cfg.rootfs?.diff_ids ?? [])) out.add(c);
    } catch (e) {
      if (!isSkiffError(e)) throw e;
    }
  };
  for (const r of roots) await visit(r, 0);
  return out;
}

/**
 * Removes unpacked-layer cache entries (see unpack-cache.ts) whose chain ID is not in `keep`. Each entry is
 * removed under its own exclusive entry lock (the one unpacks take), its `l/<short>` link first, then the
 * directory is renamed to a `.tmp-<hex>-gc-*` name (which ensureUnpacked treats as debris) and deleted — so a
 * concurrent run either finds the entry complete before the rename or unpacks it afresh after. Entries whose
 * lock is busy (being unpacked right now) are skipped. Only 64-hex names are touched. Returns the chain IDs
 * removed. Idempotent. Callers must include the layers of every image and container still in use in `keep`.
 */
export async function removeUnusedUnpacked(cacheDir: string, keep: ReadonlySet<string>, o: Cancellable = {}): Promise<Digest[]> {
  const cache = resolve(cacheDir);
  const names = await readdir(cache).catch(() => [] as string[]);
  const removed: Digest[] = [];
  for (const hex of names) {
    throwIfAborted(o.signal);
    if (!HEX64.test(hex)) continue;
    const chain = `sha256:${hex}`;
    if (!isDigest(chain) || keep.has(chain)) continue;
    let lock;
    try {
      lock = await acquireLock(join(cache, '.locks', hex), { wait: false });
    } catch (e) {
      if (isSkiffError(e)) continue; // busy: someone is unpacking or removing it
      throw e;
    }
    try {
      const short = (await readFile(join(cache, hex, 'link'), 'utf8').catch(() => '')).trim();
      if (/^[A-Z0-9]{26}$/.test(short)) await unlink(join(cache, 'l', short)).catch(() => {});
      const tmp = join(cache, `.tmp-${hex}-gc-${randomBytes(4).toString('hex')}`);
      try {
        await rename(join(cache, hex), tmp);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      removePath(tmp); // through descriptors: a symlink swapped into the entry is unlinked, never followed
      removed.push(chain);
    } finally {
      await lock.release();
    }
  }
  return removed;
}
