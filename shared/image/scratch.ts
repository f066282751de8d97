import { Readable } from 'node:stream';
import { SkiffError } from '../errors.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { MediaType } from '../oci/media-types.ts';
import type { ImageConfig, Manifest, Platform } from '../oci/types.ts';
import { imageFromSource, type Image } from './image.ts';
import { hostPlatform, normalizePlatform } from './platform.ts';
import type { ImageSource } from './source.ts';

/**
 * The empty image (`FROM scratch`): no layers, no history, an empty container config, for `platform` (the
 * host's by default), in OCI or Docker v2s2 form. Build on it with mutate.appendLayers / editConfig.
 */
export function scratchImage(o: { platform?: Platform; format?: 'oci' | 'docker' } = {}): Image {
  const p = normalizePlatform(o.platform ?? hostPlatform());
  const cfg: ImageConfig = { architecture: p.architecture, os: p.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  if (p.variant !== undefined) cfg.variant = p.variant;
  const docker = o.format === 'docker';
  const configBytes = Buffer.from(JSON.stringify(cfg));
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.DockerManifest : MediaType.OciManifest,
    config: { mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig, digest: digestOf(configBytes), size: configBytes.length },
    layers: [],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = digestOf(manifestBytes);
  const source: ImageSource = {
    getManifest: async (digest?: Digest) => {
      if (digest !== undefined && digest !== manifestDigest) throw new SkiffError('ENOTFOUND', `manifest ${digest} is not part of the scratch image`);
      return { bytes: manifestBytes, mediaType: manifest.mediaType!, digest: manifestDigest };
    },
    getBlob: async (desc) => {
      if (desc.digest !== manifest.config.digest) throw new SkiffError('ENOTFOUND', `blob ${desc.digest} is not part of the scratch image`);
      return Readable.from([configBytes]);
    },
  };
  return imageFromSource(source);
}
