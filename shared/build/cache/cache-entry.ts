/**
 * The wire form of one remote cache entry: an OCI image manifest tagged `<hex of the step key>` whose config is
 * the OCI empty blob `{}`, whose layers are the step's layer (none for a step that made no layer), and whose
 * annotations carry the step key, the step's history time and the layer's diffID. One manifest GET answers a
 * lookup; the layer is fetched only when the build needs its bytes. Pure: encoding is deterministic (fixed key
 * order), decoding trusts nothing (a wrong key, a malformed digest, more than one layer: rejected with a reason).
 */
import { digestHex, digestOf, isDigest, type Digest } from '../../oci/digest.ts';
import { MediaType } from '../../oci/media-types.ts';
import type { Descriptor } from '../../oci/types.ts';
import type { CacheEntry } from './cache-store.ts';

/** The config of every entry: the OCI empty JSON blob. */
export const EMPTY_CONFIG = new TextEncoder().encode('{}');
/** Its descriptor (media type `application/vnd.oci.empty.v1+json`). */
export const EMPTY_CONFIG_DESC: Descriptor = { mediaType: MediaType.OciEmpty, digest: digestOf(EMPTY_CONFIG), size: EMPTY_CONFIG.length };

/** The manifest's artifactType, telling skiff's entries from images others tagged in the repository. */
export const ENTRY_ARTIFACT_TYPE = 'application/vnd.skiff.build-cache.entry.v1';
const A_KEY = 'dev.skiff.cache.key';
const A_CREATED = 'dev.skiff.cache.created';
const A_DIFF_ID = 'dev.skiff.cache.diff-id';

/** The tag an entry for `key` is stored under (64 hex characters, a valid tag). */
export function entryTag(key: Digest): string {
  return digestHex(key);
}

/** The manifest bytes of the entry for `key` (same input → same bytes, so an unchanged entry is never re-pushed). */
export function encodeEntry(key: Digest, entry: CacheEntry): Uint8Array {
  const layers = entry.layer ? [{ mediaType: entry.layer.mediaType, digest: entry.layer.digest, size: entry.layer.size }] : [];
  const annotations: Record<string, string> = { [A_KEY]: key, [A_CREATED]: entry.created, ...(entry.layer && { [A_DIFF_ID]: entry.layer.diffId }) };
  return new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: ENTRY_ARTIFACT_TYPE, config: EMPTY_CONFIG_DESC, layers, annotations }));
}

/** A decoded entry, or why the bytes are not an entry for `key`. */
export type Decoded = { ok: true; entry: CacheEntry } | { ok: false; reason: string };

/** Decodes manifest bytes fetched under `key`'s tag; see the module comment for what is refused. */
export function decodeEntry(key: Digest, bytes: Uint8Array): Decoded {
  let m: { artifactType?: unknown; layers?: unknown; annotations?: Record<string, unknown> };
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as typeof m;
  } catch {
    return { ok: false, reason: 'the manifest is not JSON' };
  }
  if (m === null || typeof m !== 'object') return { ok: false, reason: 'the manifest is not an object' };
  if (m.artifactType !== ENTRY_ARTIFACT_TYPE) return { ok: false, reason: 'not a skiff cache entry (an image another tool tagged there?)' };
  const a = m.annotations ?? {};
  if (a[A_KEY] !== key) return { ok: false, reason: `it records key ${String(a[A_KEY]).slice(0, 80)}, not ${key}` };
  const created = a[A_CREATED];
  if (typeof created !== 'string' || Number.isNaN(Date.parse(created))) return { ok: false, reason: 'its created time is malformed' };
  const layers = Array.isArray(m.layers) ? (m.layers as Partial<Descriptor>[]) : undefined;
  if (layers === undefined || layers.length > 1) return { ok: false, reason: 'it must list at most one layer' };
  const l = layers[0];
  if (l === undefined) return a[A_DIFF_ID] === undefined ? { ok: true, entry: { created } } : { ok: false, reason: 'it has a diffID but no layer' };
  const diffId = a[A_DIFF_ID];
  if (!isDigest(l.digest) || !Number.isSafeInteger(l.size) || (l.size as number) < 0 || typeof l.mediaType !== 'string' || !isDigest(diffId)) {
    return { ok: false, reason: 'its layer descriptor or diffID is malformed' };
  }
  return { ok: true, entry: { created, layer: { mediaType: l.mediaType, digest: l.digest, size: l.size as number, diffId } } };
}
