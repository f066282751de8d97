import { isSkiffError, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { Annotation, INDEX_MEDIA_TYPES } from '../oci/media-types.ts';
import type { Descriptor, History } from '../oci/types.ts';
import { parseImageConfig, parseManifest } from '../oci/validate.ts';
import { listIdOf, type Layout } from './layout.ts';
import type { LayerSizes } from './layer-sizes.ts';

/** One row of `images`: what podman shows, from index.json, the manifest and the config. */
export interface ImageSummary {
  /** Image ID: the config digest (for an index entry, a manifest list's stable ID, else its digest). */
  id: Digest;
  /** Manifest digest. */
  digest: Digest;
  /** Full names (`localhost/app:latest`) of every index.json entry holding this image. */
  names: string[];
  /** Creation time from the config, when set. */
  created?: Date;
  /**
   * Manifest (twice, as podman counts it) + config + layer bytes: uncompressed layer sizes when listImages was given `sizes` (podman's SIZE,
   * what containers/storage counts), else the compressed blob sizes.
   */
  size: number;
  dangling: boolean;
  mediaType: string;
  labels: Record<string, string>;
  /** The config's rootfs diff_ids and history (empty for an index): what podman's parent/child test compares. */
  diffIds: string[];
  history: History[];
}

/** listImages' options. */
export interface ListImagesOptions extends Cancellable {
  /** Count layers by their uncompressed size (podman's image Size). */
  sizes?: LayerSizes;
}

/**
 * Summarises every image in the layout, grouped by image ID (one row per ID with all its names), newest first.
 * Entries whose manifest or config blob is missing or damaged are skipped — `verify` reports those.
 */
export async function listImages(layout: Layout, o: ListImagesOptions = {}): Promise<ImageSummary[]> {
  const rows = new Map<string, ImageSummary>();
  for (const e of await layout.entries(o)) {
    const row = await summarise(layout, e, o).catch((err) => {
      if (isSkiffError(err)) return undefined;
      throw err;
    });
    if (!row) continue;
    const prev = rows.get(row.id);
    if (prev) {
      prev.names.push(...row.names.filter((n) => !prev.names.includes(n)));
      prev.dangling &&= row.dangling;
    } else rows.set(row.id, row);
  }
  return [...rows.values()].sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0));
}

async function summarise(layout: Layout, e: Descriptor, o: ListImagesOptions): Promise<ImageSummary> {
  const name = e.annotations?.[Annotation.RefName];
  const base = { digest: e.digest, names: name ? [name] : [], dangling: !name, mediaType: e.mediaType };
  if (INDEX_MEDIA_TYPES.has(e.mediaType)) return { ...base, id: listIdOf(e) ?? e.digest, size: e.size, labels: {}, diffIds: [], history: [] };
  const m = parseManifest(await layout.blobs.readBytes(e, o), { mediaType: e.mediaType }).manifest;
  const cfg = parseImageConfig(await layout.blobs.readBytes(m.config, o));
  const created = cfg.created ? new Date(cfg.created) : undefined;
  return {
    ...base,
    id: m.config.digest,
    ...(created && !Number.isNaN(created.getTime()) ? { created } : {}),
    // containers/storage keeps the manifest twice (under `manifest-<digest>` and `manifest`) and counts both
    size: 2 * e.size + m.config.size + (await layerBytes(m.layers, o)),
    labels: cfg.config?.Labels ?? {},
    diffIds: [...cfg.rootfs.diff_ids],
    history: [...(cfg.history ?? [])],
  };
}

async function layerBytes(layers: readonly Descriptor[], o: ListImagesOptions): Promise<number> {
  let n = 0;
  // a layer that cannot be read (absent, damaged) counts its blob size: the listing still shows the image
  for (const l of layers) n += o.sizes ? await o.sizes.uncompressed(l, { signal: o.signal }).catch((e: unknown) => (isSkiffError(e, 'EABORT') ? Promise.reject(e) : l.size)) : l.size;
  return n;
}

/** podman's RepoDigests of an image: each of its names without the tag, `@` its manifest digest, once each. Pure. */
export function repoDigests(names: readonly string[], digest: Digest): string[] {
  return [...new Set(names.map((n) => `${n.replace(/:[^:/]+$/, '')}@${digest}`))];
}
