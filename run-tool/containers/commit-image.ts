import { writeFile } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { finished } from 'node:stream/promises';
import { SkiffError } from '../../shared/errors.ts';
import { applyChanges } from '../../shared/image/changes.ts';
import type { Image } from '../../shared/image/image.ts';
import { imageFromSource } from '../../shared/image/image.ts';
import { layerFromOpener } from '../../shared/image/layer.ts';
import { appendLayers, convertFormat, editConfig } from '../../shared/image/mutate.ts';
import type { ImageSource } from '../../shared/image/source.ts';
import { writeImage } from '../../shared/image/write-image.ts';
import { compress } from '../../shared/layer/compression.ts';
import { diffUpper } from '../../shared/layer/diff.ts';
import { DigestingStream, parseDigest, type Digest } from '../../shared/oci/digest.ts';
import { layerMediaType, MediaType } from '../../shared/oci/media-types.ts';
import type { ContainerConfig, Descriptor } from '../../shared/oci/types.ts';
import { storeSink } from '../../shared/store/sink.ts';
import type { Store } from '../../shared/store/store.ts';
import { withContainerRootfs } from './rootfs-access.ts';
import { mountTargets } from './mount-targets.ts';
import type { ContainerRecord } from './state.ts';
import { layerSizesDir, recordLayerSize } from '../../shared/store/layer-sizes.ts';

/** Options of commitContainer. */
export interface CommitOptions {
  /** full name in local-tag form (`localhost/app:latest`); dangling when omitted */
  name?: string;
  /** history comment (`-m`) */
  message?: string;
  /** author (`-a`): the config's author and the history entry's */
  author?: string;
  /** Dockerfile-style changes (`-c`), applied last */
  changes?: string[];
  /** freeze a running container while its upper dir is read */
  pause?: boolean;
  format?: 'oci' | 'docker';
  /** write the image ID (sha256:…) here (`--iidfile`) */
  iidFile?: string;
  created?: Date;
  onWarning?: (msg: string) => void;
  signal?: AbortSignal;
}

/** Env entries the runtime adds per container; they are not baked into a committed image. */
const PER_CONTAINER_ENV = /^(HOSTNAME|container)=/;

/** An ImageSource reading one manifest (by digest) and its blobs from the store. */
function storeManifestSource(store: Store, top: Digest): ImageSource {
  return {
    getManifest: async (d, co) => {
      const digest = d ?? top;
      const bytes = await store.blobs.readBytes({ digest }, { cap: 4 * 1024 * 1024, signal: co?.signal });
      return { bytes, mediaType: '', digest };
    },
    getBlob: (desc, co) => store.blobs.open(desc, co ?? {}),
  };
}

/** The image config podman's commit derives from the container: its env, command, workdir, user, labels. */
function containerConfigOf(base: ContainerConfig, r: ContainerRecord): ContainerConfig {
  const cfg: ContainerConfig = { ...base };
  cfg.Env = r.config.env.filter((e) => !PER_CONTAINER_ENV.test(e));
  if (r.config.entrypoint.length > 0) cfg.Entrypoint = [...r.config.entrypoint];
  else delete cfg.Entrypoint;
  if (r.config.cmd.length > 0) cfg.Cmd = [...r.config.cmd];
  else delete cfg.Cmd;
  if (r.config.workingDir) cfg.WorkingDir = r.config.workingDir;
  if (r.config.user) cfg.User = r.config.user;
  if (Object.keys(r.config.labels).length > 0) cfg.Labels = { ...r.config.labels };
  if (r.config.stopSignal && r.config.stopSignal !== 'SIGTERM') cfg.StopSignal = r.config.stopSignal;
  return cfg;
}

/**
 * Drops the empty regular files runc created in the upper dir as bind-mount targets (/etc/hosts,
 * /etc/resolv.conf, /etc/hostname, /run/.containerenv, file bind mounts): the container's writes to those
 * paths went to the mounted files, so the empty placeholders are not changes. Other entries pass through
 * unchanged (headers, pax records and bodies as they are).
 */
function withoutMountTargets(tar: Readable, targets: ReadonlySet<string>): Readable {
  if (targets.size === 0) return tar;
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  const out = new PassThrough();
  extract.on('entry', (h, body, next) => {
    const name = h.name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
    if ((h.type === 'file' || h.type === undefined) && (h.size ?? 0) === 0 && targets.has(name)) {
      body.resume();
      body.on('end', next);
      return;
    }
    body.pipe(pack.entry(h, (e) => (e ? extract.destroy(e) : next())) as unknown as NodeJS.WritableStream);
  });
  extract.on('finish', () => pack.finalize());
  extract.on('error', (e) => out.destroy(e));
  tar.on('error', (e) => extract.destroy(e));
  pack.on('error', (e) => out.destroy(e));
  tar.pipe(extract);
  pack.pipe(out);
  return out;
}

/**
 * Commits a container as podman does: its overlay upper dir becomes one new layer (diffUpper: overlay
 * whiteouts and opaque dirs in OCI form, symlinks archived as symlinks, sockets skipped — LA-20) appended to
 * the container's image, with the container's config, `changes` on top, and a history entry (created_by:
 * the container's command; comment; author). The layer streams once: hashed for its diffID while it is
 * gzip-compressed into the store (never buffered). Holds the container lock throughout (no start/rm can
 * interleave); a running container's live upper dir is read, frozen with `runc pause` when `pause`. The
 * image is committed (tagged `name`, or dangling) only once every blob is stored. Returns the image ID and
 * manifest descriptor.
 */
export async function commitContainer(store: Store, containerId: string, o: CommitOptions = {}): Promise<{ id: Digest; descriptor: Descriptor }> {
  const so = { signal: o.signal };
  const format = o.format ?? 'oci';
  // validate the changes before any work
  applyChanges({}, o.changes ?? []);
  const image = await withContainerRootfs(
    store,
    containerId,
    async ({ container, paths }) => {
      const r = container.record;
      let base: Image = imageFromSource(storeManifestSource(store, parseDigest(r.image.digest)), { digest: parseDigest(r.image.digest) });
      const baseType = await base.mediaType(so).catch((e) => {
        throw new SkiffError('ENOTFOUND', `the image of container ${r.name} (${r.image.name}) is no longer in the store: ${(e as Error).message}`, { cause: e });
      });
      if ((baseType === MediaType.DockerManifest) !== (format === 'docker')) base = convertFormat(base, format);
      const tar = withoutMountTargets(diffUpper(paths.upper, { ...so, onWarning: o.onWarning ?? (() => {}) }), await mountTargets(paths.bundle));
      const diff = new DigestingStream();
      tar.on('error', (e) => diff.destroy(e));
      const gz = compress(tar.pipe(diff), 'gzip');
      const [blob] = await Promise.all([store.putBlob(gz, undefined, so), finished(diff)]);
      await recordLayerSize(layerSizesDir(store.paths.cache), blob.digest, diff.size);
      const desc: Descriptor = { mediaType: layerMediaType(format, 'gzip'), digest: blob.digest, size: blob.size };
      const layer = layerFromOpener(desc, diff.result, (co) => store.blobs.open(desc, co ?? {}), { verified: true });
      const created = (o.created ?? new Date()).toISOString();
      let img = appendLayers(base, {
        layer,
        history: {
          created,
          created_by: r.args.join(' '),
          ...(o.author !== undefined && { author: o.author }),
          ...(o.message !== undefined && { comment: o.message }),
        },
      });
      img = editConfig(img, (cfg) => {
        cfg.created = created;
        if (o.author !== undefined) cfg.author = o.author;
        else delete cfg.author;
        cfg.config = applyChanges(containerConfigOf(cfg.config ?? {}, r), o.changes ?? []);
      });
      return img;
    },
    { ...(o.pause && { pause: true }), ...so },
  );
  const descriptor = await writeImage(storeSink(store), image, so);
  await store.commitImage(descriptor, { ...(o.name !== undefined && { name: o.name }), ...so });
  const id = await image.configDigest(so);
  if (o.iidFile) await writeFile(o.iidFile, id);
  return { id, descriptor };
}
