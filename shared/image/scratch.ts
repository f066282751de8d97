import type { ImageConfig, Platform } from '../oci/types.ts';
import { composeImage } from './compose.ts';
import type { Image } from './image.ts';
import { hostPlatform, normalizePlatform } from './platform.ts';

/**
 * The empty image (`FROM scratch`): no layers, no history, an empty container config, for `platform` (the
 * host's by default), in OCI or Docker v2s2 form, serialised by the one image writer (composeImage). Build on it
 * with mutate.appendLayers / editConfig.
 */
export function scratchImage(o: { platform?: Platform; format?: 'oci' | 'docker' } = {}): Image {
  const p = normalizePlatform(o.platform ?? hostPlatform());
  const cfg: ImageConfig = { architecture: p.architecture, os: p.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  if (p.variant !== undefined) cfg.variant = p.variant;
  return composeImage({ config: cfg, layers: [], format: o.format ?? 'oci' });
}
