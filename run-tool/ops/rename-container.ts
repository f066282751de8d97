// Renames a container (podman's `rename`, Docker's POST /containers/{id}/rename): the new name is reserved first
// (O_EXCL, so a name in use fails before anything changes), then the record is rewritten under the container's
// lock, then the old name is released. A failure between leaves the old name in force and the new one freed.
import { SkiffError } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { loadById, loadContainer, lockContainer, releaseName, reserveName, saveRecord, validateName } from '../containers/state.ts';

/**
 * Gives container `nameOrId` the name `newName`. EINVALID for an invalid name, EEXIST when another container holds
 * it, ENOTFOUND for a missing container. Returns the id, the old name and whether it changed (its current name
 * again changes nothing).
 */
export async function renameContainer(store: Store, nameOrId: string, newName: string): Promise<{ id: string; oldName: string; changed: boolean }> {
  const root = store.paths.root;
  const name = validateName(newName);
  const { id } = (await loadContainer(root, nameOrId)).record;
  const lock = await lockContainer(root, id);
  try {
    const c = await loadById(root, id);
    if (!c) throw new SkiffError('ENOTFOUND', `no container with name or ID "${nameOrId}" found: no such container`);
    const oldName = c.record.name;
    // podman: its own name again is no change and no error (Docker's API refuses it: the caller decides)
    if (oldName === name) return { id, oldName, changed: false };
    if (c.record.isInfra) throw new SkiffError('EINVALID', `container ${id} is the infra container of a pod and cannot be renamed: rename the pod's other containers instead`);
    await reserveName(root, name, id);
    try {
      await saveRecord(root, { ...c.record, name });
    } catch (e) {
      await releaseName(root, name, id);
      throw e;
    }
    await releaseName(root, oldName, id);
    return { id, oldName, changed: true };
  } finally {
    await lock.release();
  }
}
