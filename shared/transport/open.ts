import { SkiffError } from '../errors.ts';
import type { ImageName } from '../ref/transport-name.ts';
import type { TransportContext } from './context.ts';
import type { ImageTarget, OpenedSource } from './types.ts';

export type { TransportContext } from './context.ts';

function noTransport(name: ImageName): SkiffError {
  return new SkiffError('EINVALID', `image name has no transport`, {
    hint: 'prefix it with docker://, oci:, oci-archive:, docker-archive:, dir: or store:',
    details: { name },
  });
}

// Each transport loads when a name uses it: the registry client is not parsed for local copies, nor the tar code
// of the archive transports (or the local store's) for a registry → layout copy.
const docker = () => import('./docker.ts');
const ociLayout = () => import('./oci-layout.ts');
const ociArchive = () => import('./oci-archive.ts');
const dockerArchive = () => import('./docker-archive.ts');
const dirTransport = () => import('./dir.ts');
const store = () => import('./store.ts');

/**
 * Opens an image source for a parsed `transport:reference` name (see parseImageName). A `plain` name is
 * EINVALID ("no transport", as skopeo): callers that have a default transport rewrite it first. The caller
 * must close() the source.
 */
export async function openSource(name: ImageName, ctx: TransportContext): Promise<OpenedSource> {
  const so = { signal: ctx.signal };
  switch (name.transport) {
    case 'docker':
      return (await docker()).openDockerSource(name.ref, ctx.registry, { ...so, registriesDirs: ctx.registriesDirs });
    case 'oci':
      return (await ociLayout()).openOciLayoutSource(name.path, name.refName, so);
    case 'oci-archive':
      return (await ociArchive()).openOciArchiveSource(name.path, name.refName, { ...so, tmpDir: ctx.tmpDir });
    case 'docker-archive':
      return (await dockerArchive()).openDockerArchiveSource(name.path, { ref: name.ref, sourceIndex: name.sourceIndex }, { ...so, tmpDir: ctx.tmpDir });
    case 'dir':
      return (await dirTransport()).openDirSource(name.path, so);
    case 'store':
      return (await store()).openStoreSource(ctx.storeRoot, { ref: name.ref, id: name.id }, { ...so, registriesConf: ctx.registry.registriesConf, registry: ctx.registry });
    case 'plain':
      throw noTransport(name);
  }
}

/**
 * Opens an image destination for a parsed name. Nothing becomes visible before the target's commit(); the
 * caller must close() it (which discards an uncommitted write).
 */
export async function openTarget(name: ImageName, ctx: TransportContext): Promise<ImageTarget> {
  const so = { signal: ctx.signal };
  switch (name.transport) {
    case 'docker':
      return (await docker()).openDockerTarget(name.ref, ctx.registry, { ...so, registriesDirs: ctx.registriesDirs });
    case 'oci':
      return (await ociLayout()).openOciLayoutTarget(name.path, name.refName, so);
    case 'oci-archive':
      return (await ociArchive()).openOciArchiveTarget(name.path, name.refName, so);
    case 'docker-archive':
      if (name.sourceIndex !== undefined) throw new SkiffError('EINVALID', 'docker-archive:FILE:@N names a source image; a destination takes :NAME:TAG');
      return (await dockerArchive()).openDockerArchiveTarget(name.path, name.ref, so);
    case 'dir':
      return (await dirTransport()).openDirTarget(name.path, so);
    case 'store':
      if (!name.ref) throw new SkiffError('EINVALID', 'a store: destination needs a name, not an image ID');
      return (await store()).openStoreTarget(ctx.storeRoot, { ref: name.ref }, so);
    case 'plain':
      throw noTransport(name);
  }
}
