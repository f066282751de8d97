import { formatReference, localTagForm } from '../../shared/ref/reference.ts';
import type { Digest } from '../../shared/oci/digest.ts';
import type { Descriptor } from '../../shared/oci/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { commitContainer, type CommitOptions } from '../containers/commit-image.ts';
import { loadContainer } from '../containers/state.ts';

// The commit operation (podman's `commit`): a container's changes become a new image.

/** commitContainerImage's options: commitContainer's, with the image name as the user wrote it. */
export interface CommitContainerOptions extends Omit<CommitOptions, 'name'> {
  /** The new image's name (`app` → `localhost/app:latest`); dangling when undefined. */
  image?: string;
}

/** Commits container `nameOrId` (commitContainer's contract); returns the new image's ID and manifest descriptor. */
export async function commitContainerImage(store: Store, nameOrId: string, o: CommitContainerOptions = {}): Promise<{ id: Digest; descriptor: Descriptor }> {
  const { image, ...rest } = o;
  const name = image === undefined ? undefined : formatReference(localTagForm(image));
  const c = await loadContainer(store.paths.root, nameOrId);
  return await commitContainer(store, c.record.id, name === undefined ? rest : { ...rest, name });
}
