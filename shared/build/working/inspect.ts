/**
 * `inspect` documents shaped as buildah 1.28's (its Builder JSON): the fields scripts read — Type, FromImage,
 * FromImageID, FromImageDigest, Config and Manifest (JSON text), Container, ContainerID, MountPoint, OCIv1 (the image
 * config), Docker (the same in Docker form), History. Read-only.
 */
import type { Cancellable } from '../../errors.ts';
import type { ImageConfig, Manifest } from '../../oci/types.ts';
import { lookupImage } from '../../store/lookup.ts';
import { openStore } from '../../store/store.ts';
import type { WorkingContainer } from './containers.ts';

/** buildah's Builder JSON, the fields skiff fills. */
export interface BuilderInfo {
  Type: 'buildah 0.0.1';
  FromImage: string;
  FromImageID: string;
  FromImageDigest: string;
  Config: string;
  Manifest: string;
  Container: string;
  ContainerID: string;
  MountPoint: string;
  ProcessLabel: string;
  MountLabel: string;
  ImageAnnotations: Record<string, string> | null;
  ImageCreatedBy: string;
  OCIv1: ImageConfig | Record<string, never>;
  Docker: Record<string, unknown>;
  History: ImageConfig['history'] | null;
}

async function readImage(storeRoot: string, ref: string, o: Cancellable): Promise<{ name?: string; id: string; digest: string; manifest: string; config: string } | undefined> {
  const store = await openStore(storeRoot, { signal: o.signal });
  try {
    const found = await lookupImage(store.layout, ref, o);
    const mBytes = await store.blobs.readBytes(found.descriptor, o);
    const m = JSON.parse(mBytes.toString('utf8')) as Manifest;
    const cBytes = await store.blobs.readBytes(m.config, o);
    return { ...(found.name !== undefined && { name: found.name }), id: (found.id ?? m.config.digest).replace(/^sha256:/u, ''), digest: found.descriptor.digest, manifest: mBytes.toString('utf8'), config: cBytes.toString('utf8') };
  } finally {
    await store.close();
  }
}

function info(from: { name: string; id: string; digest: string }, img: { manifest: string; config: string } | undefined, c?: WorkingContainer): BuilderInfo {
  const config = img ? (JSON.parse(img.config) as ImageConfig) : undefined;
  const manifest = img ? (JSON.parse(img.manifest) as Manifest) : undefined;
  return {
    Type: 'buildah 0.0.1',
    FromImage: from.name,
    FromImageID: from.id,
    FromImageDigest: from.digest,
    Config: img?.config ?? '',
    Manifest: img?.manifest ?? '',
    Container: c?.name ?? '',
    ContainerID: c?.id ?? '',
    MountPoint: '',
    ProcessLabel: '',
    MountLabel: '',
    ImageAnnotations: manifest?.annotations ?? null,
    ImageCreatedBy: '',
    OCIv1: config ?? {},
    Docker: config ? { architecture: config.architecture, os: config.os, config: config.config ?? {}, rootfs: config.rootfs, history: config.history ?? [] } : {},
    History: config?.history ?? null,
  };
}

/** The working container's document: its base image in From*, its current config and manifest. */
export async function inspectContainer(storeRoot: string, c: WorkingContainer, o: Cancellable = {}): Promise<BuilderInfo> {
  const img = c.image === '' ? undefined : await readImage(storeRoot, c.image, o);
  return info({ name: c.fromImage, id: c.fromImageId.replace(/^sha256:/u, ''), digest: c.fromImageDigest }, img, c);
}

/** A stored image's document (ENOTFOUND as lookupImage says it). */
export async function inspectImage(storeRoot: string, ref: string, o: Cancellable = {}): Promise<BuilderInfo> {
  const img = (await readImage(storeRoot, ref, o))!;
  return info({ name: img.name ?? ref, id: img.id, digest: img.digest }, img);
}
