/**
 * `--pull always|missing|never|newer` for run/create, as podman: `missing` pulls only when the image is not in the
 * store, `never` never pulls (ENOTFOUND naming the image), `always` pulls every time (blobs already stored are
 * skipped), `newer` pulls when the registry has something else and falls back to the stored image (with a
 * warning) when the registry cannot be reached.
 */
import { isSkiffError, SkiffError, type Cancellable } from '../../shared/errors.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import type { Store } from '../../shared/store/store.ts';

/** A pull policy name. */
export type PullPolicy = 'always' | 'missing' | 'never' | 'newer';

async function stored(store: Store, image: string, o: Cancellable): Promise<boolean> {
  try {
    await lookupImage(store.layout, image, o.signal ? { signal: o.signal } : {});
    return true;
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) return false;
    throw e;
  }
}

/**
 * Makes sure `image` is in the store according to `policy`; returns the name to create the container from (the
 * stored name a pull committed, else `image`). Progress lines go to `log`.
 */
export async function ensureImage(store: Store, image: string, policy: PullPolicy, o: { registry?: RegistryOptions; log?: (line: string) => void; onWarning?: (m: string) => void; signal?: AbortSignal } = {}): Promise<string> {
  const so = { signal: o.signal };
  const have = policy === 'always' ? false : await stored(store, image, so);
  if (policy === 'never') {
    if (!have) throw new SkiffError('ENOTFOUND', `${image}: image not known`, { hint: 'pull it first, or use --pull missing' });
    return image;
  }
  if (policy === 'missing' && have) return image;
  // the registry client loads only when a pull happens
  const pull = async () => (await import('../ops/pull-image.ts')).pullImage(store.paths.root, image, { ...(o.registry && { registry: o.registry }), ...(o.log && { log: o.log }), ...so });
  if (policy === 'newer' && have) {
    try {
      const r = await pull();
      return r.name ?? image;
    } catch (e) {
      if (isSkiffError(e, 'EABORT')) throw e;
      o.onWarning?.(`WARNING: cannot check ${image} for a newer image, using the stored one: ${(e as Error).message}`);
      return image;
    }
  }
  const r = await pull();
  return r.name ?? image;
}

/**
 * Runs `use` with `image` made present per `policy` (ensureImage). With `missing` the store is not searched twice:
 * `use(image)` runs first and only a failure of its image lookup (a SkiffError with `details.imageLookup`, as
 * readRunImage marks them) makes it pull and try again; `use` must leave nothing behind when it fails
 * (createContainer removes what it made).
 */
export async function withImage<T>(store: Store, image: string, policy: PullPolicy, o: Parameters<typeof ensureImage>[3], use: (name: string) => Promise<T>): Promise<T> {
  if (policy === 'missing') {
    try {
      return await use(image);
    } catch (e) {
      if (!isSkiffError(e) || e.details?.imageLookup !== true) throw e;
    }
  }
  return use(await ensureImage(store, image, policy, o));
}
