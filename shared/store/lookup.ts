import { SkiffError, isSkiffError, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { Annotation } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { formatReference, parseReference, type Reference } from '../ref/reference.ts';
import { loadShortNameConfig } from '../ref/registries-conf.ts';
import { NO_SHORT_NAME_CONFIG, isShortName, localCandidates, matchesShortName, type ShortNameConfig } from '../ref/short-name.ts';
import type { Layout } from './layout.ts';

/** An image found in the store for what a user typed. */
export interface LookedUpImage {
  descriptor: Descriptor;
  /** The image ID (config digest, or a manifest list's stable ID); undefined for an index without one. */
  id?: Digest;
  /** The full name it was found under; undefined when found by ID or digest. */
  name?: string;
}

/** Options of lookupImage. */
export interface LookupOptions {
  /** Short-name configuration; when absent it is loaded (loadShortNameConfig) only if the input is a short name. */
  shortNames?: ShortNameConfig;
  /** registries.conf to load it from (`--registries-conf`); default $CONTAINERS_REGISTRIES_CONF, then the usual files. */
  registriesConf?: string;
  signal?: AbortSignal;
}

const ID_LIKE = /^(sha256:)?[a-f0-9]{3,64}$/;
const FULL_ID = /^(sha256:)?[a-f0-9]{64}$/;

/**
 * Finds an image in the local store the way podman's libimage does for `run IMAGE`, `tag IMAGE`, `rmi IMAGE`:
 * 1. a full ID (`sha256:…` or 64 hex) — by ID only;
 * 2. the exact names of localCandidates (a short name: its alias, `localhost/NAME`, NAME under each
 *    unqualified-search registry, the docker.io form — so what `build -t app` made is what `run app` finds);
 * 3. a unique ID prefix (at least 3 hex digits);
 * 4. a digested name: any image with that manifest digest;
 * 5. a short name: the first stored name, in index order, whose repository ends in `/NAME` with the same tag
 *    (`busybox` finds `127.0.0.1:5000/library/busybox:latest`).
 * The short-name configuration is read only when the input is a short name. ENOTFOUND says "image not known"
 * as podman does; nothing here reaches a registry. Read-only.
 */
export async function lookupImage(layout: Layout, input: string, o: LookupOptions = {}): Promise<LookedUpImage> {
  const so = { signal: o.signal };
  if (FULL_ID.test(input) || input.startsWith('sha256:')) return byId(layout, input, so);
  let ref: Reference | undefined;
  try {
    ref = parseReference(input);
  } catch (e) {
    if (!ID_LIKE.test(input)) throw e;
  }
  const conf = ref && isShortName(ref) ? (o.shortNames ?? (await loadShortNameConfig({ ...so, path: o.registriesConf }))) : undefined;
  if (ref) {
    for (const c of localCandidates(ref, conf ?? NO_SHORT_NAME_CONFIG)) {
      if (c.tag === undefined) continue; // digested candidates are found by digest below
      const name = formatReference(c);
      try {
        const descriptor = await layout.resolve(name, so);
        const id = await layout.imageId(descriptor, so);
        return { descriptor, name, id };
      } catch (e) {
        if (!isSkiffError(e, 'ENOTFOUND')) throw e;
      }
    }
  }
  if (ID_LIKE.test(input)) {
    try {
      return await byId(layout, input, so);
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND')) throw e;
    }
  }
  if (ref?.digest !== undefined) {
    const e = (await layout.entries(so)).find((d) => d.digest === ref.digest);
    if (e) {
      const id = await layout.imageId(e, so);
      return { descriptor: e, id };
    }
  } else if (ref && isShortName(ref)) {
    for (const e of await layout.entries(so)) {
      const name = e.annotations?.[Annotation.RefName];
      if (name === undefined || !matchesShortName(parseStored(name), ref)) continue;
      const id = await layout.imageId(e, so);
      return { descriptor: e, name, ...(id ? { id } : {}) };
    }
  }
  throw notKnown(input);
}

function parseStored(name: string): Reference {
  try {
    return parseReference(name);
  } catch {
    return { path: '' }; // a name no reference grammar accepts matches nothing
  }
}

async function byId(layout: Layout, input: string, so: Cancellable): Promise<LookedUpImage> {
  try {
    const found = await layout.findImage(input, so);
    return { descriptor: found.descriptor, id: found.id };
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND')) throw notKnown(input);
    throw e;
  }
}

function notKnown(input: string): SkiffError {
  return new SkiffError('ENOTFOUND', `${input}: image not known`, { hint: 'list images with `images`, or pull or build it first' });
}
