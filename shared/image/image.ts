import { SkiffError, type Cancellable } from '../errors.ts';
import { digestMismatch, digestOf, type Digest } from '../oci/digest.ts';
import { parseImageConfig, parseManifest, readAllLimited, resolveLimits, type ValidationLimits } from '../oci/validate.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { layerFromSource, type Layer } from './layer.ts';
import { memoAsync } from './memo.ts';
import { fetchVerifiedDocument, type ImageSource, type ManifestBytes } from './source.ts';

/**
 * A single-platform image, go-containerregistry style: every parsed accessor has a raw twin and every digest is
 * taken over the exact raw bytes. Implementations are lazy (nothing is read until asked) and memoised (each
 * document is fetched and parsed at most once per view). Views are immutable: mutate.ts returns new views.
 */
export interface Image {
  rawManifest(opts?: Cancellable): Promise<Uint8Array>;
  manifest(opts?: Cancellable): Promise<Manifest>;
  mediaType(opts?: Cancellable): Promise<string>;
  /** sha256 of rawManifest(). */
  digest(opts?: Cancellable): Promise<Digest>;
  /** The descriptor an index or tag would use to point at this image. */
  descriptor(opts?: Cancellable): Promise<Descriptor>;
  rawConfig(opts?: Cancellable): Promise<Uint8Array>;
  config(opts?: Cancellable): Promise<ImageConfig>;
  /** sha256 of rawConfig(): the image ID. */
  configDigest(opts?: Cancellable): Promise<Digest>;
  /** The layers, bottom first; layer i pairs manifest layer i with rootfs.diff_ids[i]. */
  layers(opts?: Cancellable): Promise<Layer[]>;
}

/** Options of imageFromSource. */
export interface ImageFromSourceOptions {
  /** The manifest to read; the source's top-level one when omitted. */
  digest?: Digest;
  /** Declared media type (from the index entry); the body must agree (LS-15). */
  mediaType?: string;
  /** Expected manifest size (from the index entry). */
  size?: number;
  /** Already-fetched manifest bytes (skips getManifest; still verified against `digest`). */
  prefetched?: ManifestBytes;
  limits?: Partial<ValidationLimits>;
}

/**
 * A lazy, memoised Image over an ImageSource. The manifest bytes are checked against the requested digest and
 * size, parsed with LS-15/LS-16 validation, and must be an image manifest (an index is EINVALID: select a
 * platform first). The config is read with the size cap and verified against its descriptor.
 */
export function imageFromSource(source: ImageSource, opts: ImageFromSourceOptions = {}): Image {
  const limits = resolveLimits(opts.limits);
  const loadManifest = memoAsync(async (o?: Cancellable) => {
    const { bytes, declared } = await fetchVerifiedDocument(source, opts, 'manifest', o);
    return parseManifest(bytes, { ...(declared === undefined ? {} : { mediaType: declared }), limits });
  });
  const loadConfig = memoAsync(async (o?: Cancellable) => {
    const m = (await loadManifest(o)).manifest;
    const d = m.config;
    if (d.size > limits.maxConfigBytes) {
      throw new SkiffError('ELIMIT', `image config ${d.digest} is ${d.size} bytes, above the limit of ${limits.maxConfigBytes}`);
    }
    const bytes = await readAllLimited(await source.getBlob(d, o), limits.maxConfigBytes, { signal: o?.signal, what: 'image config' });
    const actual = digestOf(bytes);
    if (actual !== d.digest) throw digestMismatch(d.digest, actual);
    return { bytes, config: parseImageConfig(bytes, { limits }) };
  });
  const loadLayers = memoAsync(async (o?: Cancellable) => {
    const m = (await loadManifest(o)).manifest;
    const c = (await loadConfig(o)).config;
    const ids = c.rootfs.diff_ids;
    if (ids.length !== m.layers.length) {
      throw new SkiffError('EINVALID', `image has ${m.layers.length} layers but its config lists ${ids.length} diff_ids`);
    }
    return m.layers.map((d, i) => layerFromSource(source, d, ids[i]!));
  });
  return {
    rawManifest: async (o) => (await loadManifest(o)).bytes,
    manifest: async (o) => (await loadManifest(o)).manifest,
    mediaType: async (o) => (await loadManifest(o)).mediaType,
    digest: async (o) => (await loadManifest(o)).digest,
    descriptor: async (o) => {
      const m = await loadManifest(o);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    },
    rawConfig: async (o) => (await loadConfig(o)).bytes,
    config: async (o) => (await loadConfig(o)).config,
    configDigest: async (o) => (await loadManifest(o)).manifest.config.digest,
    layers: loadLayers,
  };
}
