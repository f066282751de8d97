import { isSkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { Annotation } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { parseAnyManifest } from '../oci/validate.ts';
import { JSON_BLOB_CAP } from './blob-store.ts';
import type { Layout } from './layout.ts';
import { listSourcesOf } from './list-refs.ts';

/** One damaged image: every index entry of it, its names, what is wrong, and the blobs that cannot be trusted. */
export interface DamagedImage {
  /** The image ID (config digest), or the entry's manifest digest when no config can be read. */
  id: string;
  entries: Descriptor[];
  names: string[];
  problems: string[];
  /** Blobs present under a digest their bytes do not hash to (or not regular files): never to be reused. */
  badBlobs: Digest[];
}

const MAX_DEPTH = 8;

type BlobVerdict = { ok: true } | { ok: false; problem: string; bad: boolean };

/**
 * Checks every image index.json names: each manifest, index and config is read verified (digest and size), and
 * each layer blob is present, a regular file of the declared size and — unless `quick` — hashed to its end.
 * Read-only: reports, never deletes. Each blob is judged once however many images share it. Images are
 * grouped by ID, as `images` shows them; only damaged ones are returned.
 */
export async function findDamagedImages(layout: Layout, o: { quick?: boolean; signal?: AbortSignal } = {}): Promise<DamagedImage[]> {
  const so = { signal: o.signal };
  const verdicts = new Map<string, Promise<BlobVerdict>>();
  const judge = (d: Descriptor, what: string, read: 'json' | 'hash' | 'stat'): Promise<BlobVerdict> => {
    const key = `${d.digest} ${d.size}`;
    let v = verdicts.get(key);
    if (!v) {
      v = judgeBlob(layout, d, what, read, so);
      verdicts.set(key, v);
    }
    return v;
  };
  const byImage = new Map<string, DamagedImage>();
  for (const e of await layout.entries(so)) {
    throwIfAborted(o.signal);
    const problems: string[] = [];
    const bad = new Set<Digest>();
    const note = (v: BlobVerdict, d: Descriptor) => {
      if (v.ok) return;
      problems.push(v.problem);
      if (v.bad) bad.add(d.digest);
    };
    const byReference = listSourcesOf(e);
    const walk = async (d: Descriptor, depth: number): Promise<void> => {
      const v = await judge(d, depth === 0 ? 'manifest' : 'child manifest', 'json');
      note(v, d);
      if (!v.ok) return;
      let m;
      try {
        m = parseAnyManifest(await layout.blobs.readBytes(d, { cap: JSON_BLOB_CAP, ...so }), { mediaType: d.mediaType });
      } catch (err) {
        if (!isSkiffError(err)) throw err;
        problems.push(`manifest ${d.digest} cannot be parsed: ${err.message}`);
        return;
      }
      if (m.kind === 'index') {
        if (depth >= MAX_DEPTH) {
          problems.push(`index ${d.digest} nests deeper than ${MAX_DEPTH} levels`);
          return;
        }
        for (const c of m.index.manifests) await walk(c, depth + 1);
        return;
      }
      if (m.kind !== 'manifest') return;
      note(await judge(m.manifest.config, 'config', 'json'), m.manifest.config);
      for (const l of m.manifest.layers) {
        if (l.urls && !(await layout.blobs.has(l.digest).catch(() => true))) continue; // foreign layer not stored here
        // a list's entry added by reference keeps its layers at the registry until `manifest push`
        if (byReference[d.digest] !== undefined && !(await layout.blobs.has(l.digest).catch(() => true))) continue;
        note(await judge(l, 'layer', o.quick ? 'stat' : 'hash'), l);
      }
    };
    await walk(e, 0);
    const id = (await layout.imageId(e, so)) ?? e.digest;
    if (problems.length === 0 && !byImage.has(id)) continue;
    const name = e.annotations?.[Annotation.RefName];
    const row = byImage.get(id) ?? { id, entries: [], names: [], problems: [], badBlobs: [] };
    row.entries.push(e);
    if (name !== undefined && !row.names.includes(name)) row.names.push(name);
    for (const p of problems) if (!row.problems.includes(p)) row.problems.push(p);
    for (const b of bad) if (!row.badBlobs.includes(b)) row.badBlobs.push(b);
    byImage.set(id, row);
  }
  return [...byImage.values()].filter((r) => r.problems.length > 0);
}

async function judgeBlob(layout: Layout, d: Descriptor, what: string, read: 'json' | 'hash' | 'stat', so: Cancellable): Promise<BlobVerdict> {
  let st;
  try {
    st = await layout.blobs.stat(d.digest);
  } catch (e) {
    if (isSkiffError(e, 'ELAYOUT')) return { ok: false, problem: `${what} blob ${d.digest} is not a regular file`, bad: true };
    throw e;
  }
  if (!st) return { ok: false, problem: `${what} blob ${d.digest} is missing`, bad: false };
  if (st.size !== d.size) return { ok: false, problem: `${what} blob ${d.digest} is ${st.size} bytes, its descriptor says ${d.size}`, bad: true };
  if (read === 'stat') return { ok: true };
  try {
    if (read === 'json') await layout.blobs.readBytes(d, { cap: JSON_BLOB_CAP, ...so });
    else for await (const _ of (await layout.blobs.open(d, so)) as AsyncIterable<Buffer>) void _;
  } catch (e) {
    if (isSkiffError(e, 'EINTEGRITY') || isSkiffError(e, 'EBADSIZE')) return { ok: false, problem: `${what} blob ${d.digest} does not match its digest: ${e.message}`, bad: true };
    if (isSkiffError(e, 'ELIMIT')) return { ok: false, problem: `${what} blob ${d.digest} is too large to be a ${what}`, bad: false };
    if (isSkiffError(e)) return { ok: false, problem: `${what} blob ${d.digest} cannot be read: ${e.message}`, bad: false };
    throw e;
  }
  return { ok: true };
}
