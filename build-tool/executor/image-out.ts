/**
 * Writing the built image: config blob, then manifest blob (layer blobs are in the store already, written as each
 * step finished), then the names in index.json through Store.commitImage, which checks everything referenced is
 * present first — the BU-18 order layer → config → manifest → index. Base layers are referenced as they are (never
 * re-tarred), so `--timestamp` builds are reproducible. `--format docker` maps media types; HEALTHCHECK, ONBUILD and
 * SHELL stay in the config in both formats.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { SkiffError } from '../../shared/errors.ts';
import { configMediaType, layerMediaTypeIn, manifestMediaType } from '../../shared/oci/media-types.ts';
import { digestOf, type Digest } from '../../shared/oci/digest.ts';
import { checkDocumentSize } from '../../shared/oci/document-size.ts';
import type { Descriptor, History, ImageConfig, Manifest } from '../../shared/oci/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { applyLayer } from '../../shared/layer/apply.ts';
import { decompress } from '../../shared/layer/compression.ts';
import { packTree } from '../../shared/layer/tar-write.ts';
import type { StageLayer } from './layers.ts';

/** The layer's media type in the written format; types the shared table does not know are kept as they are. */
function layerType(mt: string, docker: boolean): string {
  try {
    return layerMediaTypeIn(mt, docker ? 'docker' : 'oci') ?? mt;
  } catch (e) {
    if (docker && e instanceof SkiffError) throw new SkiffError(e.code, e.message, { hint: 'build with --format oci' });
    throw e;
  }
}

/**
 * Writes config and manifest blobs for `layers` + `config`; returns the manifest descriptor and image ID. Not tagged.
 * Either document over MAX_DOCUMENT_BYTES fails (ELIMIT) before anything is stored.
 */
export async function writeBuiltImage(
  store: Store,
  r: { config: ImageConfig; layers: StageLayer[]; history: History[] },
  o: { format?: 'oci' | 'docker'; labels?: Record<string, string>; annotations?: Record<string, string>; created: string; signal?: AbortSignal },
): Promise<{ descriptor: Descriptor; id: Digest }> {
  const so = o.signal ? { signal: o.signal } : {};
  const docker = o.format === 'docker';
  const cfg: ImageConfig = structuredClone(r.config);
  cfg.created = o.created;
  cfg.rootfs = { type: 'layers', diff_ids: r.layers.map((l) => l.diffId) };
  cfg.history = r.history;
  if (o.labels && Object.keys(o.labels).length) cfg.config = { ...(cfg.config ?? {}), Labels: { ...(cfg.config?.Labels ?? {}), ...o.labels } };
  // both documents are serialised and checked against the one document limit before either is stored
  const cfgBytes = Buffer.from(JSON.stringify(cfg));
  checkDocumentSize(cfgBytes, 'the image config');
  const mediaType = manifestMediaType(docker ? 'docker' : 'oci');
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: configMediaType(docker ? 'docker' : 'oci'), digest: digestOf(cfgBytes), size: cfgBytes.length },
    layers: r.layers.map((l) => ({ mediaType: layerType(l.descriptor.mediaType, docker), digest: l.descriptor.digest, size: l.descriptor.size })),
  };
  if (!docker && o.annotations && Object.keys(o.annotations).length) manifest.annotations = { ...o.annotations };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  checkDocumentSize(manifestBytes, 'the image manifest');
  const cref = await store.putBlob(cfgBytes, undefined, so);
  const mref = await store.putBlob(manifestBytes, undefined, so);
  return { descriptor: { mediaType, digest: mref.digest, size: mref.size }, id: cref.digest };
}

/** Applies `layers` in order into directory `dest` (created), confined: the image's filesystem as plain files. */
export async function exportRootfs(store: Store, layers: readonly StageLayer[], dest: string, o: { signal?: AbortSignal } = {}): Promise<void> {
  await mkdir(dest, { recursive: true, mode: 0o755 });
  for (const l of layers) {
    const { stream } = await decompress(await store.blobs.open(l.descriptor, o), o);
    await applyLayer(dest, stream, { mode: 'merged', ...o });
  }
}

/** Writes the tree at `dir` as a tar file `file`. */
export async function tarTree(dir: string, file: string, o: { mtime?: Date; signal?: AbortSignal } = {}): Promise<void> {
  await pipeline(packTree(dir, o), createWriteStream(file, { mode: 0o644 }));
}
