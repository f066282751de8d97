import { SkiffError, type Cancellable } from '../errors.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { configMediaType, convertLayerMediaType, manifestMediaType, type ManifestFormat } from '../oci/media-types.ts';
import type { ContainerConfig, Descriptor, History, ImageConfig, Manifest } from '../oci/types.ts';
import { parseImageConfig, parseManifest } from '../oci/validate.ts';
import { checkDocumentSize } from '../oci/document-size.ts';
import type { Image } from './image.ts';
import { withMediaType, type Layer } from './layer.ts';
import { memoAsync } from './memo.ts';

/** How a derived image differs from its base; every part is optional and applied lazily. */
interface Derivation {
  /** New config from a deep copy of the base config (may modify and return it). */
  config?: (cfg: ImageConfig) => ImageConfig | Promise<ImageConfig>;
  /** New layer list from the base layers. */
  layers?: (layers: Layer[]) => Layer[] | Promise<Layer[]>;
  manifestMediaType?: string;
  configMediaType?: string;
  /** Rewrites a layer descriptor as it goes into the manifest. */
  layerDescriptor?: (d: Descriptor) => Descriptor;
  /** Replaces the manifest annotations (undefined: keep; null: drop). */
  annotations?: Record<string, string> | null;
  /** Checks run on the base manifest before building (e.g. conversion preconditions). */
  check?: (m: Manifest, mediaType: string) => void;
}

/** A descriptor with keys in the spec's order and only the fields that are set. */
function orderedDescriptor(d: Descriptor): Descriptor {
  const o: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls !== undefined) o.urls = d.urls;
  if (d.annotations !== undefined) o.annotations = d.annotations;
  if (d.data !== undefined) o.data = d.data;
  if (d.platform !== undefined) o.platform = d.platform;
  if (d.artifactType !== undefined) o.artifactType = d.artifactType;
  return o;
}

function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

/**
 * Builds a new lazy image from `base` and a derivation. The base is never modified; the new manifest and config
 * are serialised once (memoised) and their digests are over those exact bytes; either over MAX_DOCUMENT_BYTES is
 * refused (ELIMIT) when first asked for, so no writer stores a document readers refuse. Nothing is read until asked.
 */
function derive(base: Image, dv: Derivation): Image {
  const config = memoAsync(async (o?: Cancellable): Promise<{ bytes: Uint8Array; config: ImageConfig } | undefined> => {
    if (dv.config === undefined) return undefined;
    const next = await dv.config(structuredClone(await base.config(o)));
    const bytes = utf8(JSON.stringify(next));
    checkDocumentSize(bytes, 'the image config');
    return { bytes, config: parseImageConfig(bytes) };
  });
  const layers = memoAsync(async (o?: Cancellable) => (dv.layers === undefined ? base.layers(o) : dv.layers(await base.layers(o))));
  const manifest = memoAsync(async (o?: Cancellable) => {
    const bm = await base.manifest(o);
    const bmt = await base.mediaType(o);
    dv.check?.(bm, bmt);
    const mediaType = dv.manifestMediaType ?? bmt;
    const c = await config(o);
    const configDesc: Descriptor = orderedDescriptor({
      ...bm.config,
      mediaType: dv.configMediaType ?? bm.config.mediaType,
      ...(c === undefined ? {} : { digest: digestOf(c.bytes), size: c.bytes.length }),
    });
    const ls = await layers(o);
    const layerDescs = await Promise.all(ls.map(async (l) => orderedDescriptor((dv.layerDescriptor ?? ((d) => d))(await l.descriptor()))));
    const m: Manifest = { schemaVersion: 2, mediaType, config: configDesc, layers: layerDescs };
    if (bm.artifactType !== undefined) m.artifactType = bm.artifactType;
    if (bm.subject !== undefined) m.subject = bm.subject;
    const ann = dv.annotations === undefined ? bm.annotations : dv.annotations === null ? undefined : dv.annotations;
    if (ann !== undefined) m.annotations = ann;
    const bytes = utf8(JSON.stringify(m));
    checkDocumentSize(bytes, 'the image manifest');
    return parseManifest(bytes, { mediaType });
  });
  return {
    rawManifest: async (o) => (await manifest(o)).bytes,
    manifest: async (o) => (await manifest(o)).manifest,
    mediaType: async (o) => (await manifest(o)).mediaType,
    digest: async (o) => (await manifest(o)).digest,
    descriptor: async (o) => {
      const m = await manifest(o);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    },
    rawConfig: async (o) => (await config(o))?.bytes ?? base.rawConfig(o),
    config: async (o) => (await config(o))?.config ?? base.config(o),
    configDigest: async (o) => (await manifest(o)).manifest.config.digest,
    layers,
  };
}

/** A layer to append, with the history entry that describes it. */
export interface Addendum {
  layer: Layer;
  /** Its history entry; `empty_layer` must not be true. Default: `{}` when the base has history. */
  history?: History;
}

/**
 * A new image with `adds` appended on top of `base`: manifest layers, rootfs.diff_ids and history grow together
 * (one non-empty history entry per added layer; when the base has no history and none is given, none is added).
 * The base image is untouched.
 */
export function appendLayers(base: Image, ...adds: Addendum[]): Image {
  for (const a of adds) {
    if (a.history?.empty_layer === true) throw new SkiffError('EINVALID', 'the history entry of an appended layer cannot be empty_layer');
  }
  return derive(base, {
    layers: (ls) => [...ls, ...adds.map((a) => a.layer)],
    config: async (cfg) => {
      const ids: Digest[] = await Promise.all(adds.map((a) => a.layer.diffId()));
      cfg.rootfs = { type: 'layers', diff_ids: [...cfg.rootfs.diff_ids, ...ids] };
      const had = cfg.history !== undefined && cfg.history.length > 0;
      if (had || adds.some((a) => a.history !== undefined)) {
        cfg.history = [...(cfg.history ?? []), ...adds.map((a) => ({ ...(a.history ?? {}) }))];
      }
      return cfg;
    },
  });
}

/**
 * A new image whose layers are replaced one for one by `layers` (the same content under other blobs: a
 * recompression), listed with their own descriptors; the config, and so the diffIDs, are unchanged. A count
 * that differs from the base's is EINVALID.
 */
export function replaceLayers(base: Image, layers: readonly Layer[]): Image {
  return derive(base, {
    layers: (ls) => {
      if (ls.length !== layers.length) throw new SkiffError('EINVALID', `replaceLayers: the image has ${ls.length} layers, ${layers.length} given`);
      return [...layers];
    },
  });
}

/**
 * A new image whose config is `edit(copy)` (the function may modify the deep copy in place or return a new
 * object). rootfs.diff_ids must not change (use appendLayers); the result is re-validated.
 */
export function editConfig(base: Image, edit: (cfg: ImageConfig) => ImageConfig | void): Image {
  return derive(base, {
    config: (cfg) => {
      const before = JSON.stringify(cfg.rootfs);
      const next = edit(cfg) ?? cfg;
      if (JSON.stringify(next.rootfs) !== before) throw new SkiffError('EINVALID', 'editConfig cannot change rootfs; use appendLayers');
      return next;
    },
  });
}

/**
 * A new image whose runtime config (`config` of the image config: Env, Cmd, Entrypoint, Labels, User, …) has the
 * keys of `patch` set; a key whose value is `undefined` is removed.
 */
export function setContainerConfig(base: Image, patch: { [K in keyof ContainerConfig]?: ContainerConfig[K] | undefined }): Image {
  return editConfig(base, (cfg) => {
    const c: Record<string, unknown> = { ...(cfg.config ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete c[k];
      else c[k] = v;
    }
    cfg.config = c as ContainerConfig;
  });
}

/** A new image whose config `created` is `when` (RFC 3339, UTC). */
export function setCreated(base: Image, when: Date | string): Image {
  const d = typeof when === 'string' ? new Date(when) : when;
  if (Number.isNaN(d.getTime())) throw new SkiffError('EINVALID', `invalid creation time ${String(when)}`);
  const iso = d.toISOString();
  return editConfig(base, (cfg) => {
    cfg.created = iso;
  });
}

/**
 * A new image with history replaced; the number of entries without `empty_layer: true` must equal the number of
 * layers (EINVALID otherwise, checked when the config is read).
 */
export function setHistory(base: Image, history: History[]): Image {
  return editConfig(base, (cfg) => {
    const nonEmpty = history.filter((h) => h.empty_layer !== true).length;
    if (nonEmpty !== cfg.rootfs.diff_ids.length) {
      throw new SkiffError('EINVALID', `history has ${nonEmpty} non-empty entries but the image has ${cfg.rootfs.diff_ids.length} layers`);
    }
    cfg.history = history.map((h) => ({ ...h }));
  });
}

/** A new image with one `empty_layer: true` history entry appended (ENV, CMD, LABEL… in a build). */
export function appendEmptyHistory(base: Image, entry: Omit<History, 'empty_layer'>): Image {
  return editConfig(base, (cfg) => {
    cfg.history = [...(cfg.history ?? []), { ...entry, empty_layer: true }];
  });
}

/** A new image with the manifest annotations replaced (`null` removes them). */
export function setAnnotations(base: Image, annotations: Record<string, string> | null): Image {
  return derive(base, { annotations });
}

/** The image formats convertFormat knows. */
export type { ManifestFormat };

/**
 * A new image converted between the OCI and Docker v2s2 manifest formats: manifest, config and layer media types
 * are mapped; blobs (config and layers) are unchanged, so the image ID and diffIDs stay the same. zstd layers
 * have no Docker type (EUNSUPPORTED). Going to Docker drops manifest and layer annotations (the format has
 * none) and refuses `subject` / `artifactType`. Errors surface when the new manifest is first read.
 * Converting to the current format returns `base` itself.
 */
export function convertFormat(base: Image, to: ManifestFormat): Image {
  const manifestType = manifestMediaType(to);
  const configType = configMediaType(to);
  const fromConfig = configMediaType(to === 'docker' ? 'oci' : 'docker');
  let identity: Promise<boolean> | undefined;
  const isIdentity = (o?: Cancellable) => (identity ??= base.mediaType(o).then((mt) => mt === manifestType));
  const converted = derive(base, {
    manifestMediaType: manifestType,
    configMediaType: configType,
    check: (m) => {
      if (m.config.mediaType !== fromConfig && m.config.mediaType !== configType) {
        throw new SkiffError('EUNSUPPORTED', `config media type ${m.config.mediaType} is not an image config; cannot convert`);
      }
      if (to === 'docker' && (m.subject !== undefined || m.artifactType !== undefined)) {
        throw new SkiffError('EUNSUPPORTED', 'manifests with subject or artifactType cannot be converted to Docker schema 2');
      }
      for (const l of m.layers) convertLayerMediaType(l.mediaType, to);
    },
    layers: (ls) => Promise.all(ls.map(async (l) => withMediaType(l, convertLayerMediaType(await l.mediaType(), to)))),
    ...(to === 'docker'
      ? {
          annotations: null,
          layerDescriptor: (d: Descriptor) => {
            const { annotations: _a, ...rest } = d;
            return rest;
          },
        }
      : {}),
  });
  const pick = <K extends keyof Image>(k: K) =>
    (async (o?: Cancellable) => ((await isIdentity(o)) ? base : converted)[k](o as never)) as unknown as Image[K];
  return {
    rawManifest: pick('rawManifest'),
    manifest: pick('manifest'),
    mediaType: pick('mediaType'),
    digest: pick('digest'),
    descriptor: pick('descriptor'),
    rawConfig: pick('rawConfig'),
    config: pick('config'),
    configDigest: pick('configDigest'),
    layers: pick('layers'),
  };
}
