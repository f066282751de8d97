// The image listing operation (podman's `images`; the CLI command itself is shared/cli/images-command.ts, which
// build-tool uses too): the store's images as plain summaries.
import { listImages as listStoreImages, type ImageSummary } from '../../shared/store/list-images.ts';
import type { Store } from '../../shared/store/store.ts';
import type { Cancellable } from '../../shared/errors.ts';

/** Every image in `store`, one summary per image (names, ID, size, created). */
export async function listImages(store: Store, o: Cancellable = {}): Promise<ImageSummary[]> {
  return listStoreImages(store.layout, o);
}
