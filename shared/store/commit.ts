import { SkiffError, type Cancellable } from '../errors.ts';
import type { Descriptor } from '../oci/types.ts';
import { parseDescriptor } from '../oci/validate.ts';
import type { Layout } from './layout.ts';
import { walkReachable, type Reachability } from './reachability.ts';

/**
 * Checks that `desc` and everything it references (config, layers, child manifests, subject…) are committed
 * with the declared sizes and readable, verified JSON — except the blobs in `mayLack` (the layers a manifest list
 * holds by reference only: list-refs.ts), which may be absent. Throws ENOTFOUND naming the first missing blob,
 * EBADSIZE for a size that differs from its descriptor, or the read error of a damaged manifest.
 * Returns the walk (its `reachable` keys are every digest the image needs).
 */
export async function checkImageComplete(layout: Layout, desc: Descriptor, o: Cancellable & { mayLack?: ReadonlySet<string> } = {}): Promise<Reachability> {
  const d = parseDescriptor({ ...desc }, 'image descriptor');
  const walk = await walkReachable(layout.blobs, [d], { signal: o.signal });
  const missing = walk.missing.find((m) => !o.mayLack?.has(m.digest));
  if (missing) {
    throw new SkiffError('ENOTFOUND', `cannot commit image ${d.digest}: blob ${missing.digest} (${missing.mediaType}) is not in the store`, {
      hint: 'write every blob, then the config and manifest, before naming the image',
      details: { missing: walk.missing.filter((m) => !o.mayLack?.has(m.digest)).map((m) => m.digest) },
    });
  }
  const bad = walk.unreadable[0];
  if (bad) throw bad.error;
  for (const [digest, sizes] of walk.reachable) {
    const st = await layout.blobs.stat(digest, o);
    if (st && !sizes.has(st.size)) {
      throw new SkiffError('EBADSIZE', `cannot commit image ${d.digest}: blob ${digest} is ${st.size} bytes, descriptors say ${[...sizes].join(', ')}`);
    }
  }
  return walk;
}

/**
 * The last step of writing an image (order: blobs → config → manifest → index): verifies with
 * checkImageComplete that everything referenced exists, then tags it `name` or, without a name, records
 * it as a dangling entry. index.json never points at an incomplete image (LS-19). Returns the descriptor
 * that previously held the name, if any (LS-11: last commit wins, the caller may log it).
 * Without a store (a bare layout) nothing stops a concurrent gc; Store.commitImage adds that protection.
 */
export async function commitImage(layout: Layout, desc: Descriptor, o: { name?: string; signal?: AbortSignal } = {}): Promise<Descriptor | undefined> {
  const so = { signal: o.signal };
  await checkImageComplete(layout, desc, so);
  if (o.name === undefined) {
    await layout.addUnnamed(desc, so);
    return undefined;
  }
  return layout.tag(o.name, desc, so);
}
