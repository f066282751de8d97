import { SkiffError, isSkiffError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/types.ts';
import { formatReference, lookupCandidates, parseReference } from '../ref/reference.ts';
import type { Layout } from './layout.ts';

/** An image found in the store for what a user typed. */
export interface LookedUpImage {
  descriptor: Descriptor;
  /** The image ID (config digest); undefined for an index entry. */
  id?: Digest;
  /** The full name it was found under; undefined when found by ID. */
  name?: string;
}

const ID_LIKE = /^(sha256:)?[a-f0-9]{3,64}$/;

/**
 * Finds an image the way podman does for `run IMAGE`/`rmi IMAGE`: a name (short names try `localhost/NAME`
 * first, then the pull form, then each search registry — so what `build -t app` made is what `run app` finds),
 * a full image ID, or a unique ID prefix. A string that is both a valid name and hex (`abc123`) is tried as a
 * name first, then as an ID. ENOTFOUND says "image not known" as podman does.
 */
export async function lookupImage(layout: Layout, input: string, o: { searchRegistries?: readonly string[]; signal?: AbortSignal } = {}): Promise<LookedUpImage> {
  const so = o.signal ? { signal: o.signal } : {};
  if (!input.startsWith('sha256:')) {
    let candidates: string[] = [];
    try {
      const ref = parseReference(input);
      candidates = lookupCandidates(ref, o.searchRegistries ? { searchRegistries: o.searchRegistries } : {}).map((c) => formatReference(c));
    } catch (e) {
      if (!ID_LIKE.test(input)) throw e;
    }
    for (const name of candidates) {
      try {
        const descriptor = await layout.resolve(name, so);
        const id = await layout.configDigest(descriptor, so);
        return { descriptor, name, ...(id ? { id } : {}) };
      } catch (e) {
        if (!isSkiffError(e, 'ENOTFOUND')) throw e;
      }
    }
  }
  if (ID_LIKE.test(input)) {
    try {
      const found = await layout.findImage(input, so);
      return { descriptor: found.descriptor, ...(found.id ? { id: found.id } : {}) };
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND')) throw e;
    }
  }
  throw new SkiffError('ENOTFOUND', `${input}: image not known`, { hint: 'list images with `images`, or pull or build it first' });
}
