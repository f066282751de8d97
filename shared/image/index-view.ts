import { SkiffError, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from '../oci/media-types.ts';
import type { Descriptor, Index, Platform } from '../oci/types.ts';
import { parseAnyManifest, parseIndex, resolveLimits, type ValidationLimits } from '../oci/validate.ts';
import { imageFromSource, type Image } from './image.ts';
import { memoAsync } from './memo.ts';
import { formatPlatform, hostPlatform, selectManifest } from './platform.ts';
import { fetchVerifiedDocument, type ImageSource, type ManifestBytes } from './source.ts';

/**
 * A lazy, memoised view of an image index / Docker manifest list. Child views are built on demand; nested
 * indexes are followed at most `limits.maxIndexDepth` levels deep and a digest already on the path is a
 * cycle (both ELIMIT, LS-16).
 */
export interface ImageIndex {
  rawManifest(opts?: Cancellable): Promise<Uint8Array>;
  manifest(opts?: Cancellable): Promise<Index>;
  mediaType(opts?: Cancellable): Promise<string>;
  digest(opts?: Cancellable): Promise<Digest>;
  descriptor(opts?: Cancellable): Promise<Descriptor>;
  /** The image an entry points to (the entry must be an image manifest). */
  image(desc: Descriptor): Image;
  /** The nested index an entry points to; ELIMIT beyond the depth limit or on a cycle. */
  childIndex(desc: Descriptor): ImageIndex;
  /** The best entry for `platform` (default: the host's), or ENOTFOUND naming the platforms available. */
  select(platform?: Platform, opts?: Cancellable): Promise<Descriptor>;
}

/** Options of indexFromSource. */
export interface IndexFromSourceOptions {
  digest?: Digest;
  mediaType?: string;
  size?: number;
  prefetched?: ManifestBytes;
  limits?: Partial<ValidationLimits>;
  /** Digests of the indexes above this one (top level: empty). */
  ancestors?: readonly Digest[];
}

/** A lazy ImageIndex over an ImageSource; the body is verified against digest/size and validated as an index. */
export function indexFromSource(source: ImageSource, opts: IndexFromSourceOptions = {}): ImageIndex {
  const limits = resolveLimits(opts.limits);
  const ancestors = opts.ancestors ?? [];
  const load = memoAsync(async (o?: Cancellable) => {
    const { bytes, declared } = await fetchVerifiedDocument(source, opts, 'index', o);
    return parseIndex(bytes, { ...(declared === undefined ? {} : { mediaType: declared }), limits });
  });
  const self: ImageIndex = {
    rawManifest: async (o) => (await load(o)).bytes,
    manifest: async (o) => (await load(o)).index,
    mediaType: async (o) => (await load(o)).mediaType,
    digest: async (o) => (await load(o)).digest,
    descriptor: async (o) => {
      const m = await load(o);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    },
    image(desc) {
      if (INDEX_MEDIA_TYPES.has(desc.mediaType)) throw new SkiffError('EINVALID', `index entry ${desc.digest} is an index, not an image`);
      return imageFromSource(source, { digest: desc.digest, mediaType: desc.mediaType, size: desc.size, limits });
    },
    childIndex(desc) {
      if (MANIFEST_MEDIA_TYPES.has(desc.mediaType)) throw new SkiffError('EINVALID', `index entry ${desc.digest} is an image, not an index`);
      // The child's depth is path.length (top level = 0); a top level read without a digest counts as one.
      const path = [...ancestors, opts.digest ?? ('' as Digest)];
      if (path.length > limits.maxIndexDepth) {
        throw new SkiffError('ELIMIT', `nested indexes are deeper than the limit of ${limits.maxIndexDepth}`, { hint: 'the image may be malicious' });
      }
      if (path.includes(desc.digest)) throw new SkiffError('ELIMIT', `index ${desc.digest} refers to itself through its children (cycle)`);
      return indexFromSource(source, { digest: desc.digest, mediaType: desc.mediaType, size: desc.size, limits, ancestors: path });
    },
    async select(platform, o) {
      const want = platform ?? hostPlatform();
      const idx = (await load(o)).index;
      const d = selectManifest(idx.manifests, want);
      if (d === undefined) {
        const have = idx.manifests.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : []));
        throw new SkiffError('ENOTFOUND', `no image for platform ${formatPlatform(want)} in the index`, {
          hint: have.length > 0 ? `available: ${[...new Set(have)].join(', ')}` : 'the index lists no platforms',
          details: { available: have },
        });
      }
      return d;
    },
  };
  return self;
}

/**
 * Resolves what a source's manifest (top level, or `digest`) denotes to a single image: an image manifest is
 * returned as is; an index is descended by platform (default: the host's) through nested indexes up to the
 * depth limit. Unknown media types are EUNSUPPORTED.
 */
export async function resolveImage(
  source: ImageSource,
  opts: { digest?: Digest; platform?: Platform; limits?: Partial<ValidationLimits>; signal?: AbortSignal } = {},
): Promise<Image> {
  const limits = resolveLimits(opts.limits);
  const o = { signal: opts.signal };
  const mb = await source.getManifest(opts.digest, o);
  const declared = mb.mediaType === '' ? undefined : mb.mediaType;
  const any = parseAnyManifest(mb.bytes, { ...(declared === undefined ? {} : { mediaType: declared }), limits });
  const digest = opts.digest ?? mb.digest;
  if (any.kind === 'manifest') return imageFromSource(source, { digest, prefetched: mb, limits });
  if (any.kind === 'unknown') throw new SkiffError('EUNSUPPORTED', `manifest media type ${any.mediaType ?? '(none)'} is not an image or an index`);
  let idx = indexFromSource(source, { digest, prefetched: mb, limits });
  for (;;) {
    const d = await idx.select(opts.platform, o);
    if (!INDEX_MEDIA_TYPES.has(d.mediaType)) return idx.image(d);
    idx = idx.childIndex(d);
  }
}
