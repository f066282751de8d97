/**
 * Base images: found in the store as `run` finds them (lookupImage: podman's short-name matching, so `busybox`
 * finds `127.0.0.1:5000/library/busybox:latest` and, as in buildah, nothing is pulled for it), or pulled from a
 * registry into the store according to the pull policy (`missing` default, `always`, `never`, `newer` — newer pulls
 * and falls back to the local image when the registry is unreachable). An index is resolved to the manifest for the
 * build platform. Reads are verified by the store.
 */
import { isSkiffError, SkiffError, type Cancellable } from '../../errors.ts';
import { INDEX_MEDIA_TYPES } from '../../oci/media-types.ts';
import { MAX_DOCUMENT_BYTES } from '../../oci/document-size.ts';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../../oci/types.ts';
import { selectManifest, formatPlatform, platformMatches } from '../../image/platform.ts';
import { lookupImage } from '../../store/lookup.ts';
import type { Store } from '../../store/store.ts';
import type { RegistryOptions } from '../../registry/types.ts';
import type { StageLayer } from './layers.ts';
import type { Policy } from '../../signature/policy.ts';

/** A base image as the executor needs it. */
export interface BaseImage {
  manifestDigest: string;
  /** the manifest's media type (OCI or Docker) */
  manifestMediaType: string;
  config: ImageConfig;
  layers: StageLayer[];
}

const CAP = MAX_DOCUMENT_BYTES;

/** Reads the image `desc` points at (an index resolved for `platform`) from the store. */
export async function readStoreImage(store: Store, desc: Descriptor, platform: Platform, o: Cancellable = {}): Promise<BaseImage> {
  let d = desc;
  if (INDEX_MEDIA_TYPES.has(d.mediaType)) {
    const idx = await store.blobs.readJson<Index>(d, { cap: CAP, ...o });
    const m = selectManifest(idx.manifests, platform);
    if (m === undefined) throw new SkiffError('ENOTFOUND', `no image for platform ${formatPlatform(platform)} in ${desc.digest}`);
    d = m;
  }
  const man = await store.blobs.readJson<Manifest>(d, { cap: CAP, ...o });
  const config = await store.blobs.readJson<ImageConfig>(man.config, { cap: CAP, ...o });
  const ids = config.rootfs?.diff_ids ?? [];
  if (ids.length !== man.layers.length) throw new SkiffError('EINVALID', `image ${d.digest} has ${man.layers.length} layers but ${ids.length} diff_ids`);
  return { manifestDigest: d.digest, manifestMediaType: d.mediaType, config, layers: man.layers.map((l, i) => ({ descriptor: l, diffId: ids[i]! })) };
}

/**
 * One build's reads of stored images: each (name, platform) is looked up (the index) and read (manifest, config)
 * once, however many FROM lines, RUN platform checks and `--from` images name it; a pull forgets the name's entries
 * (the store then holds another image). Not shared between builds: the next build reads the store afresh.
 */
export class StoredImages {
  readonly #reads = new Map<string, Promise<BaseImage | undefined>>();
  constructor(readonly store: Store) {}

  /** Stored image `ref` for `platform`, undefined when the store has no such name; other read errors reject. */
  read(ref: string, platform: Platform, o: Cancellable = {}): Promise<BaseImage | undefined> {
    const k = `${ref}\0${formatPlatform(platform)}`;
    let p = this.#reads.get(k);
    if (p === undefined) {
      p = readLocal(this.store, ref, platform, o);
      this.#reads.set(k, p);
    }
    return p;
  }

  /** Forgets every read of `ref` (after it was pulled). */
  forget(ref: string): void {
    for (const k of this.#reads.keys()) if (k.startsWith(`${ref}\0`)) this.#reads.delete(k);
  }
}

/** Stored image `ref` (podman's name lookup) read for `platform`; undefined when no stored name matches. */
async function readLocal(store: Store, ref: string, platform: Platform, o: Cancellable): Promise<BaseImage | undefined> {
  let found;
  try {
    found = await lookupImage(store.layout, ref, o);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) return undefined;
    throw e;
  }
  return readStoreImage(store, found.descriptor, platform, o);
}

/** Finds (and per policy pulls) base image `ref`; stored images are read through `images` (one build's reads). */
export async function loadBaseImage(
  store: Store,
  ref: string,
  platform: Platform,
  o: { pull?: 'always' | 'missing' | 'never' | 'newer'; registry?: RegistryOptions; signal?: AbortSignal; onInfo?: (m: string) => void; onWarning?: (m: string) => void; trustPolicy?: () => Promise<Policy>; images?: StoredImages },
): Promise<BaseImage> {
  const so = { signal: o.signal };
  const policy = o.pull ?? 'missing';
  const images = o.images ?? new StoredImages(store);
  const local = () => images.read(ref, platform, so);
  let found = policy === 'always' || policy === 'newer' ? undefined : await local();
  if (found === undefined && policy !== 'never') {
    try {
      // the registry client, transports and signature checks load only when a FROM image is pulled; the pull
      // logs podman's "Resolving …" and "Trying to pull NAME..." lines
      await (await import('./pull-base.ts')).pullBaseImage(store.paths.root, ref, platform, o.registry ?? {}, o.trustPolicy, o.signal, o.onInfo);
    } catch (e) {
      if (isSkiffError(e, 'EPERM')) throw e; // a policy rejection never falls back to a local copy
      if (policy !== 'newer' && policy !== 'missing') throw e;
      if (policy === 'missing') throw e;
    }
    images.forget(ref);
    found = await local();
  }
  if (found === undefined) {
    throw new SkiffError('ENOTFOUND', `${ref}: image not known`, { hint: policy === 'never' ? 'pull the image first or use --pull missing' : 'check the image name' });
  }
  const img = found;
  // a single-platform image of another platform is used as it is (its config keeps its own platform), with
  // podman's warning; RUN steps then fail with an exec format error unless the binaries happen to run here
  const have = { os: img.config.os, architecture: img.config.architecture, ...(img.config.variant && { variant: img.config.variant }) };
  if (have.os && have.architecture && !platformMatches(platform, have)) o.onWarning?.(`image platform (${formatPlatform(have)}) does not match the expected platform (${formatPlatform(platform)})`);
  return img;
}

/**
 * The platform stored image `ref` gives a build for `want` without pulling anything: an index (or an image of a
 * matching platform) gives `want`, a single-platform image of another platform its own (it is used as it is).
 * Undefined when `ref` is not in the store or cannot be read (the build then finds out for itself).
 */
export async function storedImagePlatform(store: Store, ref: string, want: Platform, o: Cancellable & { images?: StoredImages } = {}): Promise<Platform | undefined> {
  try {
    const img = await (o.images ?? new StoredImages(store)).read(ref, want, o);
    if (img === undefined) return undefined;
    const c = img.config;
    if (!c.os || !c.architecture) return want;
    const have: Platform = { os: c.os, architecture: c.architecture, ...(c.variant && { variant: c.variant }) };
    return platformMatches(want, have) ? want : have;
  } catch {
    return undefined;
  }
}
