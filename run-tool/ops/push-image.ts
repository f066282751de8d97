// The push operation (Docker's POST /images/{name}/push; build-tool push's job for run-tool's front ends): one store
// image copied to a registry through the transport library.
import type { Cancellable } from '../../shared/errors.ts';
import { parseReference } from '../../shared/ref/reference.ts';
import { parseImageName } from '../../shared/ref/transport-name.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { copyImage, type ProgressEvent } from '../../shared/transport/copy-image.ts';
import { openTarget } from '../../shared/transport/open.ts';
import { openStoreSource } from '../../shared/transport/store.ts';

/**
 * Pushes store image `image` (a name found as podman finds it) to the registry reference `dest` (default: the
 * image's own name). The destination's name is committed only after every blob and the manifest are up.
 * Returns the pushed manifest's digest and size.
 */
export async function pushImage(root: string, image: string, dest: string | undefined, o: Cancellable & { registry?: RegistryOptions; onProgress?: (e: ProgressEvent) => void } = {}): Promise<{ digest: string; size: number }> {
  const so = { signal: o.signal };
  const src = await openStoreSource(root, { ref: parseReference(image) }, so);
  let size = 0;
  try {
    const dst = await openTarget(parseImageName(`docker://${dest ?? image}`), { storeRoot: root, registry: o.registry ?? {}, ...so });
    try {
      const r = await copyImage(src, dst, { ...so, onProgress: (e) => {
        if (e.kind === 'manifest' && e.size !== undefined) size = e.size;
        o.onProgress?.(e);
      } });
      return { digest: r.digest, size };
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
