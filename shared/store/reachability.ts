import { isSkiffError, SkiffError, throwIfAborted } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { layerCompression } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { JSON_BLOB_CAP, type BlobStore } from './blob-store.ts';
import { parseDescriptor } from '../oci/validate.ts';

/** How deep index → manifest → … chains may go before the walk gives up (LS-16). */
export const MAX_REFERENCE_DEPTH = 32;
const MAX_JSON_DEPTH = 64;

/** What a walk from some roots found. */
export interface Reachability {
  /** Every digest reachable from the roots, with the sizes descriptors declared for it. */
  reachable: Map<Digest, Set<number>>;
  /** Referenced blobs that are not in the store (descriptors carrying embedded `data` are not counted). */
  missing: Descriptor[];
  /** JSON-ish blobs that could not be read (damaged: digest or size mismatch); their children are unknown. */
  unreadable: { digest: Digest; error: SkiffError }[];
  /** Descriptors skipped because they were invalid (bad digest, negative size…), with where they were. */
  invalid: string[];
}

/**
 * Descriptor-shaped objects inside a parsed JSON document: any object with a string `digest` and a `size`
 * field — this covers config, layers, manifests, subject and blobs of every known manifest kind, and is
 * deliberately conservative for unknown media types (image-spec: MUST NOT error on unknown mediaType).
 * Invalid ones are reported in `invalid`, never returned. Nesting deeper than 64 levels is ELIMIT.
 */
export function findDescriptors(doc: unknown, where: string, invalid: string[]): Descriptor[] {
  const out: Descriptor[] = [];
  const stack: { v: unknown; depth: number; at: string }[] = [{ v: doc, depth: 0, at: where }];
  while (stack.length) {
    const { v, depth, at } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_JSON_DEPTH) throw new SkiffError('ELIMIT', `${where} nests JSON deeper than ${MAX_JSON_DEPTH} levels`);
    if (!Array.isArray(v) && typeof (v as { digest?: unknown }).digest === 'string' && 'size' in v) {
      try {
        out.push(parseDescriptor(v, at));
      } catch (e) {
        if (!isSkiffError(e)) throw e;
        invalid.push(e.message);
      }
      continue;
    }
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [k, x] of entries) stack.push({ v: x, depth: depth + 1, at: `${at}.${k}` });
  }
  return out;
}

/** Whether the walk parses a blob of this type to look for children: anything small that is not a layer. */
function mayHaveChildren(d: Descriptor, cap: number): boolean {
  return layerCompression(d.mediaType) === undefined && d.size <= cap && d.size > 0;
}

/**
 * Walks everything reachable from `roots` through indexes, manifests, subjects and unknown JSON documents,
 * with cycle detection (each digest is expanded once) and a depth limit (ELIMIT beyond MAX_REFERENCE_DEPTH).
 * Every digest is validated before it is used. Reads are verified; damaged blobs land in `unreadable`.
 */
export async function walkReachable(
  blobs: BlobStore,
  roots: readonly Descriptor[],
  o: { signal?: AbortSignal; maxDepth?: number; cap?: number } = {},
): Promise<Reachability> {
  const maxDepth = o.maxDepth ?? MAX_REFERENCE_DEPTH;
  const cap = o.cap ?? JSON_BLOB_CAP;
  const r: Reachability = { reachable: new Map(), missing: [], unreadable: [], invalid: [] };
  const stack: { d: Descriptor; depth: number }[] = roots.map((d) => ({ d, depth: 0 }));
  const expanded = new Set<Digest>();
  while (stack.length) {
    throwIfAborted(o.signal);
    const { d, depth } = stack.pop()!;
    let sizes = r.reachable.get(d.digest);
    if (!sizes) r.reachable.set(d.digest, (sizes = new Set()));
    sizes.add(d.size);
    if (expanded.has(d.digest)) continue;
    expanded.add(d.digest);
    const st = await blobs.stat(d.digest);
    if (!st) {
      if (d.data === undefined) r.missing.push(d);
      continue;
    }
    if (!mayHaveChildren(d, cap) || st.size > cap) continue;
    let doc: unknown;
    try {
      doc = await blobs.readJson({ digest: d.digest, size: d.size }, { cap, signal: o.signal });
    } catch (e) {
      if (isSkiffError(e, 'EINTEGRITY') || isSkiffError(e, 'EBADSIZE')) r.unreadable.push({ digest: d.digest, error: e });
      else if (!isSkiffError(e, 'EINVALID') && !isSkiffError(e, 'ELIMIT')) throw e; // not JSON: a leaf
      continue;
    }
    const children = findDescriptors(doc, `blob ${d.digest}`, r.invalid);
    if (children.length && depth + 1 > maxDepth) {
      throw new SkiffError('ELIMIT', `references nest deeper than ${maxDepth} levels below blob ${d.digest}`);
    }
    for (const c of children) stack.push({ d: c, depth: depth + 1 });
  }
  return r;
}
