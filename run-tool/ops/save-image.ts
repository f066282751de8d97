import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { parseReference, type Reference } from '../../shared/ref/reference.ts';
import { copyImage } from '../../shared/transport/copy-image.ts';
import { openDirTarget } from '../../shared/transport/dir.ts';
import { openDockerArchiveTarget } from '../../shared/transport/docker-archive.ts';
import { openOciArchiveTarget } from '../../shared/transport/oci-archive.ts';
import { openOciLayoutTarget } from '../../shared/transport/oci-layout.ts';
import { openStoreSource } from '../../shared/transport/store.ts';
import type { ImageTarget } from '../../shared/transport/types.ts';
import { isDigest, type Digest } from '../../shared/oci/digest.ts';

// The save operation (podman's `save`): one store image written out as an archive or a directory.

/** podman save's formats. */
export type SaveFormat = 'docker-archive' | 'oci-archive' | 'oci-dir' | 'docker-dir';
/** Every SaveFormat, in podman's order. */
export const SAVE_FORMATS: readonly SaveFormat[] = ['docker-archive', 'oci-archive', 'oci-dir', 'docker-dir'];

/**
 * Writes image `image` (name, ID or prefix) of the store at `root` to `output` in `format`, through the
 * transport library: archives appear only when complete (temp + rename), blobs are verified while they stream.
 * Archives record the image's name (docker-archive RepoTags, oci-archive ref.name) when it was named by name.
 */
export async function saveImage(root: string, image: string, output: string, format: SaveFormat, o: Cancellable = {}): Promise<void> {
  const so = { signal: o.signal };
  const hex = image.replace(/^sha256:/, '');
  let what: { ref?: Reference; id?: Digest };
  try {
    what = { ref: parseReference(image) };
  } catch (e) {
    const d = `sha256:${hex}`;
    if (isDigest(d)) what = { id: d };
    else throw e;
  }
  const src = await openStoreSource(root, what, so);
  try {
    const name = src.name.startsWith('store:') ? src.name.slice('store:'.length) : undefined;
    let ref: Reference | undefined;
    try {
      ref = name !== undefined ? parseReference(name) : undefined;
    } catch {
      ref = undefined;
    }
    if (ref && ref.registry === undefined) ref = undefined; // found by ID (store:sha256:…): no name to record
    let dst: ImageTarget;
    switch (format) {
      case 'docker-archive':
        dst = await openDockerArchiveTarget(output, ref, so);
        break;
      case 'oci-archive':
        dst = await openOciArchiveTarget(output, name !== undefined && ref ? name : undefined, so);
        break;
      case 'oci-dir':
        dst = await openOciLayoutTarget(output, name !== undefined && ref ? name : undefined, so);
        break;
      case 'docker-dir':
        dst = await openDirTarget(output, so);
        break;
    }
    try {
      await copyImage(src, dst, { ...(format === 'docker-archive' || format === 'docker-dir' ? { format: 'docker' as const } : { format: 'oci' as const }), ...so });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** `format` as a SaveFormat; EINVALID naming the choices otherwise. */
export function saveFormat(format: string): SaveFormat {
  if (!SAVE_FORMATS.includes(format as SaveFormat)) throw new SkiffError('EINVALID', `unsupported format ${JSON.stringify(format)}: use docker-archive, oci-archive, oci-dir or docker-dir`);
  return format as SaveFormat;
}
