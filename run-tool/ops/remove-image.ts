import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import type { Descriptor } from '../../shared/oci/types.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import type { Store } from '../../shared/store/store.ts';
import { listContainers } from '../containers/state.ts';
import { removeContainer } from '../containers/stop-container.ts';
import { recordImageEvent } from '../containers/record-event.ts';
import { listContainers as listWorkingContainers } from '../../shared/build/working/containers.ts';

// The image removal operation (podman's `rmi`): plain options in, the report lines out.

const hexOf = (d: string): string => d.replace(/^sha256:/, '');

/** One podman `rmi` report line (`Untagged: NAME` / `Deleted: ID`). */
export type RmiLine = { kind: 'Untagged' | 'Deleted'; value: string };

/** Options of removeImage. */
export interface RemoveImageOptions {
  force?: boolean;
  signal?: AbortSignal;
  /** What removing a container that uses the image (with `force`) could not tear down (its network). */
  onWarning?: (message: string) => void;
}

async function entriesOfImage(store: Store, id: string, o: Cancellable): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  for (const e of await store.layout.entries(o)) {
    const cid = (await store.layout.imageId(e, o)) ?? e.digest;
    if (cid === id) out.push(e);
  }
  return out;
}

/**
 * Removes (or untags) one image as `podman rmi` does: by a name that is not the image's last one it only
 * untags; by its last name, or by ID, it removes every index entry of the image. By ID with several names,
 * or while a container uses it — run-tool's, or a build-tool working container (podman's external ones) made from it
 * or holding it as its current image — it refuses unless `force` (which removes those containers first, rm -f). Blobs stay until gc (collectStoreGarbage). Index edits are atomic (layout.update).
 */
export async function removeImage(root: string, store: Store, input: string, o: RemoveImageOptions = {}): Promise<RmiLine[]> {
  const so = { signal: o.signal };
  const found = await lookupImage(store.layout, input, so);
  const id = found.id ?? found.descriptor.digest;
  const entries = await entriesOfImage(store, id, so);
  const names = [...new Set(entries.map((e) => e.annotations?.[Annotation.RefName]).filter((n): n is string => n !== undefined))];
  const lines: RmiLine[] = [];
  if (found.name !== undefined && names.length > 1) {
    await store.layout.untag(found.name, so);
    recordImageEvent(root, 'untag', found.name, id);
    return [{ kind: 'Untagged', value: found.name }];
  }
  if (found.name === undefined && names.length > 1 && !o.force) {
    throw new SkiffError('EINVALID', `unable to delete image "${hexOf(id)}" by ID with more than one tag ([${names.join(' ')}]): please force removal`);
  }
  const users = (await listContainers(root)).filter((c) => hexOf(c.record.image.id) === hexOf(id) || c.record.image.digest === found.descriptor.digest);
  // build-tool's working containers are podman's "external" (buildah) containers: they hold the image too
  const working = (await listWorkingContainers(root)).filter((c) => [c.fromImageId, c.image].some((x) => x !== '' && hexOf(x) === hexOf(id)));
  if (users.length > 0 || working.length > 0) {
    if (!o.force) {
      throw new SkiffError('ELOCKED', `image used by ${users[0]?.record.id ?? working[0]!.id}: image is in use by a container: consider listing external containers and force-removing image`);
    }
    for (const c of users) await removeContainer(store, c.record.id, { force: true, onWarning: o.onWarning });
    if (working.length > 0) await (await import('../../shared/build/working/steps.ts')).removeContainers(root, working.map((c) => c.id), so);
  }
  const ids = new Set(entries.map((e) => e.digest));
  await store.layout.update((es) => es.filter((e) => !ids.has(e.digest)), so);
  for (const n of names) {
    lines.push({ kind: 'Untagged', value: n });
    recordImageEvent(root, 'untag', n, id);
  }
  lines.push({ kind: 'Deleted', value: hexOf(id) });
  recordImageEvent(root, 'remove', names[0] ?? hexOf(id), id);
  return lines;
}
