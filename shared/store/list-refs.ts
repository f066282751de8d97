/**
 * The by-reference entries of a manifest list (podman's `manifest add docker://REF` keeps only a reference, not the
 * image): which entry came from which registry repository, as the list's index.json entry records it
 * (Annotation.ListSources), and which blobs that leaves outside the store. Only the entry's manifest and config are
 * stored; its layers are read from the repository when the list is pushed (or copied).
 */
import { isSkiffError, type Cancellable } from '../errors.ts';
import { isDigest, type Digest } from '../oci/digest.ts';
import { Annotation, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from '../oci/media-types.ts';
import type { Descriptor, Index } from '../oci/types.ts';
import { parseManifest } from '../oci/validate.ts';
import { JSON_BLOB_CAP, type BlobStore } from './blob-store.ts';

/** Manifest digest → the repository (`<registry>/<repository path>`) its blobs are read from. */
export type ListSources = Readonly<Record<Digest, string>>;

/** A registry repository, split as registries and cross-repository mounts name it. */
export interface RepositoryName {
  registry: string;
  repository: string;
}

/** The by-reference entries a list's index.json entry records (none for an image, or a value that does not parse). Pure. */
export function listSourcesOf(d: Descriptor): ListSources {
  const v = d.annotations?.[Annotation.ListSources];
  if (v === undefined || !INDEX_MEDIA_TYPES.has(d.mediaType)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const out: Record<Digest, string> = {};
  for (const [k, r] of Object.entries(parsed)) if (isDigest(k) && typeof r === 'string' && splitRepository(r)) out[k] = r;
  return out;
}

/**
 * The annotations recording `sources` for the entries `index` still holds (an entry removed from the list drops
 * out); empty when none is left. Pure.
 */
export function sourcesAnnotations(index: Index, sources: ListSources): Record<string, string> {
  const kept = Object.fromEntries(index.manifests.filter((m) => sources[m.digest] !== undefined).map((m) => [m.digest, sources[m.digest]!]));
  return Object.keys(kept).length > 0 ? { [Annotation.ListSources]: JSON.stringify(kept) } : {};
}

/** `<registry>/<repository>` split at its first `/`; undefined when either part is empty. Pure. */
export function splitRepository(s: string): RepositoryName | undefined {
  const i = s.indexOf('/');
  if (i <= 0 || i === s.length - 1) return undefined;
  return { registry: s.slice(0, i), repository: s.slice(i + 1) };
}

/**
 * Every blob (config and layers) of the by-reference entries of `index`, with the repository it comes from, read
 * from the stored manifests (a manifest not stored, damaged or not an image manifest contributes nothing).
 */
export async function referencedBlobs(blobs: BlobStore, index: Index, sources: ListSources, o: Cancellable = {}): Promise<Map<Digest, { desc: Descriptor; from: RepositoryName }>> {
  const out = new Map<Digest, { desc: Descriptor; from: RepositoryName }>();
  for (const e of index.manifests) {
    const from = sources[e.digest] !== undefined ? splitRepository(sources[e.digest]!) : undefined;
    if (!from || !MANIFEST_MEDIA_TYPES.has(e.mediaType)) continue;
    let m;
    try {
      m = parseManifest(await blobs.readBytes(e, { cap: JSON_BLOB_CAP, ...o }), { mediaType: e.mediaType }).manifest;
    } catch (err) {
      if (isSkiffError(err) && !isSkiffError(err, 'EABORT')) continue;
      throw err;
    }
    for (const d of [m.config, ...m.layers]) if (!out.has(d.digest)) out.set(d.digest, { desc: d, from });
  }
  return out;
}
