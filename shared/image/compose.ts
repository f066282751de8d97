import { digestOf } from '../oci/digest.ts';
import { checkDocumentSize } from '../oci/document-size.ts';
import { configMediaType, indexMediaType, layerMediaTypeIn, manifestMediaType, type ManifestFormat } from '../oci/media-types.ts';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.ts';
import { parseImageConfig, parseManifest } from '../oci/validate.ts';
import type { Image } from './image.ts';
import { withMediaType, type Layer } from './layer.ts';

/** The parts of an image composeImage() serialises. */
export interface ImageParts {
  /** The complete image config (rootfs.diff_ids must list the layers' diffIDs, bottom first). */
  config: ImageConfig;
  /** The layers, bottom first, with their descriptors; media types are mapped to `format` by the one table. */
  layers: readonly { layer: Layer; descriptor: Descriptor }[];
  /** Manifest format (default `oci`). */
  format?: ManifestFormat;
  /** Manifest annotations (OCI only; Docker schema 2 has none, so they are dropped there). */
  annotations?: Record<string, string>;
}

/**
 * An Image serialised from its parts, eagerly: the config bytes, then the manifest bytes (keys in the spec's
 * order: schemaVersion, mediaType, config, layers, annotations) are produced and each is checked against the one
 * document limit (checkDocumentSize, ELIMIT) at once, so nothing is stored for an image readers would refuse, and
 * layer types the format cannot express (zstd in Docker) fail EUNSUPPORTED here too. Digests are over those exact
 * bytes; write it with writeImage (blobs → config → manifest, verified puts).
 */
export function composeImage(p: ImageParts): Image {
  const format = p.format ?? 'oci';
  const configBytes = Buffer.from(JSON.stringify(p.config));
  checkDocumentSize(configBytes, 'the image config');
  const layers = p.layers.map(({ layer, descriptor }) => {
    const mediaType = layerMediaTypeIn(descriptor.mediaType, format) ?? descriptor.mediaType;
    return { layer: mediaType === descriptor.mediaType ? layer : withMediaType(layer, mediaType), descriptor: { ...descriptor, mediaType } };
  });
  const mediaType = manifestMediaType(format);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: configMediaType(format), digest: digestOf(configBytes), size: configBytes.length },
    layers: layers.map((l) => l.descriptor),
  };
  if (format === 'oci' && p.annotations && Object.keys(p.annotations).length) manifest.annotations = { ...p.annotations };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  checkDocumentSize(manifestBytes, 'the image manifest');
  const parsed = parseManifest(manifestBytes, { mediaType });
  const config = parseImageConfig(configBytes);
  const descriptor: Descriptor = { mediaType, digest: parsed.digest, size: manifestBytes.length };
  return {
    rawManifest: async () => manifestBytes,
    manifest: async () => parsed.manifest,
    mediaType: async () => mediaType,
    digest: async () => parsed.digest,
    descriptor: async () => ({ ...descriptor }),
    rawConfig: async () => configBytes,
    config: async () => structuredClone(config),
    configDigest: async () => manifest.config.digest,
    layers: async () => layers.map((l) => l.layer),
  };
}

/**
 * An index (or manifest list) rewritten to list `manifests` (in `format` when given): every other field of the
 * original document is kept as it was. The new bytes are checked against the one document limit (ELIMIT) before
 * the caller stores them. Returns the bytes and the media type they declare (undefined when the original had none).
 */
export function rewriteIndex(original: Uint8Array, manifests: readonly Descriptor[], format?: ManifestFormat): { bytes: Uint8Array; mediaType: string | undefined } {
  const obj = JSON.parse(Buffer.from(original).toString('utf8')) as Record<string, unknown>;
  if (format !== undefined) obj.mediaType = indexMediaType(format);
  obj.manifests = manifests;
  const bytes = Buffer.from(JSON.stringify(obj));
  checkDocumentSize(bytes, 'the rewritten index');
  return { bytes, mediaType: typeof obj.mediaType === 'string' ? obj.mediaType : undefined };
}
