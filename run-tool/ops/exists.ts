import { isSkiffError } from '../../shared/errors.ts';
import { getNetwork } from '../../shared/network/network-config.ts';
import type { Store } from '../../shared/store/store.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import { loadContainer } from '../containers/state.ts';

// The `exists` operations (podman's `container|image|network exists`): true or false, an error only when the
// store itself cannot be read. A malformed name is simply not there.

async function exists(find: () => Promise<unknown>): Promise<boolean> {
  try {
    await find();
    return true;
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) return false;
    throw e;
  }
}

/** Whether a container with this name, ID or unique ID prefix exists. Read-only. */
export function containerExists(store: Store, nameOrId: string): Promise<boolean> {
  return exists(() => loadContainer(store.paths.root, nameOrId));
}

/** Whether an image with this name, ID or digest is in the store (lookupImage's rules; no registry is asked). */
export function imageExists(store: Store, input: string): Promise<boolean> {
  return exists(() => lookupImage(store.layout, input));
}

/** Whether a network with this name or ID exists (the default network always does). Read-only. */
export function networkExists(root: string, nameOrId: string): Promise<boolean> {
  return exists(() => getNetwork(root, nameOrId));
}
