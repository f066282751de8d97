import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import { formatReference, localTagForm, parseReference } from '../../shared/ref/reference.ts';
import { loadShortNameConfig } from '../../shared/ref/registries-conf.ts';
import { localCandidates } from '../../shared/ref/short-name.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import type { Store } from '../../shared/store/store.ts';
import { recordImageEvent } from '../containers/record-event.ts';

// The naming operations (podman's `tag` and `untag`): an image gains or loses names; the image itself stays.

/** The store name `tag` gives NAME: a short name is local (`app` → `localhost/app:latest`), as podman does. Pure. */
export function tagName(name: string): string {
  const ref = parseReference(name);
  if (ref.digest !== undefined) throw new SkiffError('EINVALID', `${name}: tag by digest not supported`);
  return formatReference(localTagForm(ref));
}

/**
 * Names the image `image` (name, ID or prefix) also `names` (each in local tag form). Each name moves
 * atomically (store.commitImage: everything referenced must exist; LS-11 last wins). Idempotent.
 */
export async function tagImage(store: Store, image: string, names: readonly string[], o: Cancellable = {}): Promise<void> {
  const full = names.map(tagName);
  const found = await lookupImage(store.layout, image, o);
  for (const n of full) {
    await store.commitImage(found.descriptor, { name: n, ...o });
    recordImageEvent(store.paths.root, 'tag', n, found.id ?? found.descriptor.digest);
  }
}

/**
 * Removes `names` (each resolved as lookupImage's exact candidates: the alias, `localhost/NAME`, the search
 * registries, the docker.io form — the first that names this image) from the image, or every name when `names` is empty. The
 * image stays, dangling when nameless. ENOTFOUND when a name does not name this image.
 */
export async function untagImage(store: Store, image: string, names: readonly string[], o: Cancellable = {}): Promise<string[]> {
  const shortNames = await loadShortNameConfig(o);
  const found = await lookupImage(store.layout, image, { ...o, shortNames });
  const id = found.id ?? found.descriptor.digest;
  const mine: string[] = [];
  for (const e of await store.layout.entries(o)) {
    const n = e.annotations?.[Annotation.RefName];
    if (n !== undefined && ((await store.layout.imageId(e, o)) ?? e.digest) === id) mine.push(n);
  }
  const remove: string[] = [];
  if (names.length === 0) remove.push(...mine);
  for (const n of names) {
    const hit = localCandidates(parseReference(n), shortNames)
      .map((c) => formatReference(c))
      .find((c) => mine.includes(c));
    if (!hit) throw new SkiffError('ENOTFOUND', `${n}: tag not known`);
    remove.push(hit);
  }
  for (const n of remove) {
    await store.layout.untag(n, o);
    recordImageEvent(store.paths.root, 'untag', n, id);
  }
  return remove;
}
