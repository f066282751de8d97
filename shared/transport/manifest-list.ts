/**
 * Manifest lists (OCI image indexes / Docker manifest lists) kept in the local store under a name, as podman's and
 * buildah's `manifest` commands keep them: create, add, annotate, remove an entry, inspect, push. A list names
 * images of the store, or — added from a registry, as podman 4.3 adds them — images by reference: only their manifest
 * and config are stored, the list's index.json entry records the repository (store/list-refs.ts), and `push --all`
 * copies their layers from there (mounted when the destination is the same registry). A list's ID is made at create
 * and kept by every edit (store Annotation.ListId), as podman keeps a list image's ID while its digest changes.
 * Each change writes a new index blob and then moves the name (store.commitImage: all children present, except the
 * layers held by reference → tag), under one lock for read-modify-write, so concurrent adds lose nothing and a
 * failed change leaves the old list in place.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SkiffError, isSkiffError, type Cancellable } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { Annotation, formatOfMediaType, indexMediaType, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType } from '../oci/media-types.ts';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../oci/types.ts';
import { formatReference, localTagForm, parseReference } from '../ref/reference.ts';
import { parseImageName, type ImageName } from '../ref/transport-name.ts';
import { formatPlatform, hostPlatform, normalizePlatform, selectManifest } from '../image/platform.ts';
import { fetchVerifiedDocument } from '../image/source.ts';
import { parseAnyManifest, parseManifest } from '../oci/validate.ts';
import { listIdOf } from '../store/layout.ts';
import { listSourcesOf, referencedBlobs, sourcesAnnotations, type ListSources } from '../store/list-refs.ts';
import { withLock } from '../store/lock.ts';
import { lookupImage } from '../store/lookup.ts';
import { openStore, type Store } from '../store/store.ts';
import { copyImage } from './copy-image.ts';
import type { TransportContext } from './context.ts';
import { sniffMediaType } from './files.ts';
import type { OpenedSource } from './types.ts';
import { openSource, openTarget } from './open.ts';
import { openStoreTarget } from './store.ts';

/** Per-image overrides of `manifest add` / `manifest annotate` (podman's --arch, --os, … flags). */
export interface EntryEdits {
  arch?: string;
  os?: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
  features?: string[];
  annotations?: Record<string, string>;
}

/** A list found in the store. */
export interface StoredList {
  name: string;
  descriptor: Descriptor;
  index: Index;
}

/** The name a list is stored under (`localhost/`-qualified, `:latest` added), as podman names local images. */
export function listName(input: string): string {
  return formatReference(localTagForm(parseReference(input)));
}

/** The list named `input` (ENOTFOUND "image not known"; EINVALID when the name holds an image, not a list). */
export async function readList(store: Store, input: string, o: Cancellable = {}): Promise<StoredList> {
  const found = await lookupImage(store.layout, input, o);
  if (!INDEX_MEDIA_TYPES.has(found.descriptor.mediaType)) {
    throw new SkiffError('EINVALID', `${input} is not a manifest list`, { hint: 'create one with `manifest create NAME`' });
  }
  const index = await store.blobs.readJson<Index>(found.descriptor, o);
  return { name: found.name ?? input, descriptor: found.descriptor, index };
}

/**
 * The list's ID as podman prints it: the hex of the stable ID its entry carries (made at create, kept by every edit,
 * as podman keeps a list image's ID while its manifest digest changes); a list stored without one shows its digest.
 */
export function listId(d: Descriptor): string {
  return (listIdOf(d) ?? d.digest).slice('sha256:'.length);
}

/** The stable ID of a stored list, for the next version of it to carry (a list stored without one keeps its digest). */
function keptId(l: StoredList): Digest {
  return listIdOf(l.descriptor) ?? l.descriptor.digest;
}

/** Drops the index.json entry of a list version no name holds any more (a list's old versions are not images). */
async function dropUnnamed(store: Store, old: Descriptor | undefined, o: Cancellable): Promise<void> {
  if (!old || !INDEX_MEDIA_TYPES.has(old.mediaType)) return;
  const still = (await store.layout.entries(o)).some((e) => e.digest === old.digest && e.annotations?.[Annotation.RefName] !== undefined);
  if (!still) await store.layout.remove(old.digest, o);
}

/** One list entry with its keys in the order podman prints them (mediaType, size, digest, platform, annotations). */
export function orderedEntry(d: Descriptor): Descriptor {
  const out = { mediaType: d.mediaType, size: d.size, digest: d.digest } as Descriptor;
  if (d.platform) {
    const p = d.platform;
    out.platform = { architecture: p.architecture, os: p.os } as Platform;
    if (p['os.version'] !== undefined) out.platform['os.version'] = p['os.version'];
    if (p['os.features'] !== undefined) out.platform['os.features'] = p['os.features'];
    if (p.variant !== undefined) out.platform.variant = p.variant;
    if (p.features !== undefined) out.platform.features = p.features;
  }
  for (const [k, v] of Object.entries(d)) if (!(k in out) && v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

/** How writeList names a list version: its stable ID and its by-reference entries. */
interface ListWrite extends Cancellable {
  /** The list's ID (a new list without one: the digest of this first version). */
  id?: Digest;
  /** Entries added by reference (those the index no longer holds are dropped). */
  sources?: ListSources;
}

/**
 * Writes `index` and names it `name`, its index.json entry carrying the list ID and the by-reference entries (whose
 * layers the store may lack). The version the name held before is dropped from index.json.
 */
async function writeList(store: Store, name: string, index: Index, o: ListWrite): Promise<Descriptor> {
  const doc: Index = { schemaVersion: 2, mediaType: index.mediaType ?? MediaType.OciIndex, manifests: index.manifests.map(orderedEntry) };
  if (index.annotations) doc.annotations = index.annotations;
  const so = { signal: o.signal };
  const ref = await store.blobs.putJson(doc, so);
  const sources = o.sources ?? {};
  const annotations = { [Annotation.ListId]: o.id ?? ref.digest, ...sourcesAnnotations(doc, sources) };
  const desc: Descriptor = { mediaType: doc.mediaType!, digest: ref.digest, size: ref.size, annotations };
  const mayLack = new Set((await referencedBlobs(store.blobs, doc, sources, so)).keys());
  const old = await store.commitImage(desc, { name, signal: o.signal, ...(mayLack.size > 0 && { mayLack }) });
  await dropUnnamed(store, old, so);
  return desc;
}

/** Runs a read-modify-write of lists under the store's manifest-list lock. */
async function locked<T>(store: Store, o: Cancellable, fn: () => Promise<T>): Promise<T> {
  return withLock(join(store.paths.locks, 'manifest-lists.lock'), { signal: o.signal }, fn);
}

/** Opens the store (for writing, made when absent, unless `readOnly`), runs `fn`, closes it. */
export async function withStore<T>(root: string, o: Cancellable & { readOnly?: boolean }, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(root, o.readOnly ? { signal: o.signal } : { create: true, write: true, signal: o.signal });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * `manifest create NAME`: an empty OCI index under NAME. EEXIST when the name is taken, unless `amend` and it
 * holds a list (then that list is returned unchanged).
 */
export async function createList(store: Store, input: string, o: Cancellable & { amend?: boolean } = {}): Promise<Descriptor> {
  const name = listName(input);
  return locked(store, o, async () => {
    try {
      const existing = await store.layout.resolve(name, o);
      if (o.amend && INDEX_MEDIA_TYPES.has(existing.mediaType)) return existing;
      throw new SkiffError('EEXIST', `creating image to hold manifest list: image name "${name}" is already in use`, {
        hint: o.amend ? 'that name holds an image, not a list: pick another name' : 'pass --amend to add to the existing list, or pick another name',
      });
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND')) throw e;
    }
    // a random ID, as podman's: two empty lists are two images, not one with two names
    return writeList(store, name, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }, { signal: o.signal, id: `sha256:${randomBytes(32).toString('hex')}` as Digest });
  });
}

/** How `manifest add` should read an image name: a transport-qualified name, else the local store, else a registry. */
export function parseAddSource(s: string): ImageName {
  if (s.startsWith('containers-storage:')) return parseImageName(`store:${s.slice('containers-storage:'.length)}`);
  return parseImageName(s);
}

/** Applies podman's overrides to one descriptor (a new object; the input is not changed). */
export function editEntry(d: Descriptor, e: EntryEdits): Descriptor {
  const p: Platform = { ...(d.platform ?? { architecture: '', os: '' }) };
  if (e.arch !== undefined) p.architecture = e.arch;
  if (e.os !== undefined) p.os = e.os;
  if (e.variant !== undefined) p.variant = e.variant;
  if (e.osVersion !== undefined) p['os.version'] = e.osVersion;
  if (e.osFeatures !== undefined) p['os.features'] = e.osFeatures;
  if (e.features !== undefined) p.features = e.features;
  const out: Descriptor = { ...d, platform: p };
  if (e.annotations !== undefined && Object.keys(e.annotations).length > 0) out.annotations = { ...d.annotations, ...e.annotations };
  return out;
}

/** Adds `entries` to `index` (an entry with the same digest is replaced in place, as podman does). Pure. */
export function withEntries(index: Index, entries: readonly Descriptor[]): Index {
  const manifests = [...index.manifests];
  for (const e of entries) {
    const i = manifests.findIndex((m) => m.digest === e.digest);
    if (i >= 0) manifests[i] = e;
    else manifests.push(e);
  }
  return { ...index, manifests };
}

async function descriptorOf(store: Store, digest: Digest, o: Cancellable): Promise<{ desc: Descriptor; bytes: Buffer }> {
  const bytes = await store.blobs.readBytes({ digest }, o);
  return { desc: { mediaType: sniffMediaType(bytes), digest, size: bytes.length }, bytes };
}

/** The descriptor of one stored image manifest, its platform read from its config. */
async function imageEntry(store: Store, desc: Descriptor, o: Cancellable): Promise<Descriptor> {
  const m = await store.blobs.readJson<Manifest>(desc, o);
  const c = await store.blobs.readJson<ImageConfig>(m.config, o);
  const platform: Platform = normalizePlatform({
    architecture: c.architecture ?? hostPlatform().architecture,
    os: c.os ?? 'linux',
    ...(c.variant !== undefined && { variant: c.variant }),
    ...(c['os.version'] !== undefined && { 'os.version': c['os.version'] }),
  });
  return { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, platform };
}

/** What one image name adds to a list: entries, and the repository of those added by reference. */
interface Added {
  entries: Descriptor[];
  sources: Record<Digest, string>;
}

/** The entry of an index `src` names that `manifest add` without --all picks: the host's image (ENOTFOUND when none). */
function hostEntry(entries: readonly Descriptor[], src: string): Descriptor {
  const pick = selectManifest(entries, hostPlatform());
  if (!pick) throw new SkiffError('ENOTFOUND', `${src}: no image in the list for ${hostPlatform().os}/${hostPlatform().architecture}`, { hint: 'pass --all to add every image of the list' });
  return pick;
}

/**
 * Stores an image's manifest (`bytes`, verified against `desc`) and its config, read from `source` — never its
 * layers: the list holds the image by reference.
 */
async function storeReference(store: Store, source: OpenedSource, desc: Descriptor, bytes: Uint8Array, o: Cancellable): Promise<void> {
  const so = { signal: o.signal };
  const m = parseManifest(bytes, { mediaType: desc.mediaType }).manifest;
  if (!(await store.claim(desc, so))) await store.putBlob(bytes, { digest: desc.digest, size: desc.size }, so);
  if (!(await store.claim(m.config, so))) await store.putBlob(await source.getBlob(m.config, { ...so, sinkVerifies: true }), { digest: m.config.digest, size: m.config.size }, so);
}

/**
 * The entries of a registry image added by reference, as podman 4.3 adds them: its manifest (platform from its
 * config), or from an index the host's image — with `all`, every image of it (platforms as the index gives them).
 * Only manifests and configs are stored.
 */
async function referenceEntries(store: Store, name: ImageName, ctx: TransportContext, o: Cancellable & { all?: boolean }): Promise<Added> {
  const source = await openSource(name, ctx);
  try {
    const from = source.registryRepository!;
    const repo = `${from.registry}/${from.repository}`;
    const top = await source.getManifest(undefined, o);
    const parsed = parseAnyManifest(top.bytes, top.mediaType === '' ? {} : { mediaType: top.mediaType });
    if (parsed.kind === 'manifest') {
      const desc: Descriptor = { mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length };
      await storeReference(store, source, desc, top.bytes, o);
      return { entries: [await imageEntry(store, desc, o)], sources: { [desc.digest]: repo } };
    }
    if (parsed.kind !== 'index') throw new SkiffError('EUNSUPPORTED', `${source.name}: unsupported manifest type ${parsed.mediaType ?? top.mediaType}`);
    let picks = parsed.index.manifests;
    if (!o.all) {
      picks = [hostEntry(picks, source.name)];
    }
    const sources: Record<Digest, string> = {};
    for (const c of picks) {
      if (!MANIFEST_MEDIA_TYPES.has(c.mediaType)) throw new SkiffError('EUNSUPPORTED', `${source.name}: entry ${c.digest} is a ${c.mediaType}, not an image manifest`);
      const { bytes } = await fetchVerifiedDocument(source, { digest: c.digest, size: c.size }, 'manifest', o);
      await storeReference(store, source, c, bytes, o);
      sources[c.digest] = repo;
    }
    return { entries: picks.map((c) => ({ ...c })), sources };
  } finally {
    await source.close();
  }
}

/**
 * The entries an image name contributes: a stored image's manifest (with the platform of its config), or for a list
 * the host's image, or with `all` every image of the list (their platforms as the list gives them). A registry image
 * (docker://, or a name not in the store) is added by reference (referenceEntries); one of another transport is
 * copied in first (unnamed: the list keeps it).
 */
async function entriesFor(store: Store, src: string, ctx: TransportContext, o: Cancellable & { all?: boolean }): Promise<Added> {
  let name = parseAddSource(src);
  let top: Descriptor | undefined;
  if (name.transport === 'plain' || name.transport === 'store') {
    const input = name.transport === 'store' ? (name.ref ? formatReference(name.ref) : name.id) : formatReference(name.ref);
    try {
      top = (await lookupImage(store.layout, input!, o)).descriptor;
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND') || name.transport === 'store') throw e;
      name = { transport: 'docker', ref: name.ref };
    }
  }
  if (top === undefined && name.transport === 'docker') return referenceEntries(store, name, ctx, o);
  if (top === undefined) {
    const source = await openSource(name, ctx);
    try {
      const target = await openStoreTarget(store.paths.root, {}, o);
      try {
        const r = await copyImage(source, target, { multiArch: o.all ? 'all' : 'system', ...(o.signal && { signal: o.signal }) });
        top = (await descriptorOf(store, r.digest, o)).desc;
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  }
  if (MANIFEST_MEDIA_TYPES.has(top.mediaType)) return { entries: [await imageEntry(store, top, o)], sources: {} };
  if (!INDEX_MEDIA_TYPES.has(top.mediaType)) throw new SkiffError('EUNSUPPORTED', `${src}: unsupported manifest type ${top.mediaType}`);
  const idx = await store.blobs.readJson<Index>(top, o);
  // a stored list's own by-reference entries stay by reference in this one
  const inherited = listSourcesOf(top);
  const pickSources = (ds: Descriptor[]) => Object.fromEntries(ds.filter((d) => inherited[d.digest] !== undefined).map((d) => [d.digest, inherited[d.digest]!]));
  if (o.all) return { entries: idx.manifests.map((m) => ({ ...m })), sources: pickSources(idx.manifests) };
  const pick = hostEntry(idx.manifests, src);
  return { entries: [{ ...pick }], sources: pickSources([pick]) };
}

/**
 * `manifest add LIST IMAGE…`: adds images (edited by `edits`) to the list; returns the new list descriptor. An image
 * added from the store drops an earlier by-reference record of the same digest (the store has it whole now).
 */
export async function addToList(store: Store, list: string, images: readonly string[], ctx: TransportContext, o: Cancellable & { all?: boolean; edits?: EntryEdits } = {}): Promise<Descriptor> {
  await readList(store, list, o); // a missing list fails before anything is copied
  const added: Descriptor[] = [];
  const sources: Record<Digest, string> = {};
  const whole = new Set<Digest>();
  for (const img of images) {
    const a = await entriesFor(store, img, ctx, o);
    for (const e of a.entries) {
      added.push(o.edits ? editEntry(e, o.edits) : e);
      if (a.sources[e.digest] === undefined) whole.add(e.digest);
    }
    Object.assign(sources, a.sources);
  }
  return locked(store, o, async () => {
    const cur = await readList(store, list, o);
    const kept = Object.fromEntries(Object.entries(listSourcesOf(cur.descriptor)).filter(([d]) => !whole.has(d as Digest)));
    return writeList(store, cur.name, withEntries(cur.index, added), { signal: o.signal, id: keptId(cur), sources: { ...kept, ...sources } });
  });
}

function findEntry(l: StoredList, digest: string): number {
  const i = l.index.manifests.findIndex((m) => m.digest === digest);
  if (i < 0) throw new SkiffError('ENOTFOUND', `no image instance matching digest ${JSON.stringify(digest)} was found in the list ${l.name}`, { hint: '`manifest inspect LIST` shows the digests' });
  return i;
}

/** `manifest annotate LIST DIGEST`: edits one entry's platform and annotations. */
export async function annotateList(store: Store, list: string, digest: string, edits: EntryEdits, o: Cancellable = {}): Promise<Descriptor> {
  return locked(store, o, async () => {
    const cur = await readList(store, list, o);
    const i = findEntry(cur, digest);
    const manifests = [...cur.index.manifests];
    manifests[i] = editEntry(manifests[i]!, edits);
    return writeList(store, cur.name, { ...cur.index, manifests }, { signal: o.signal, id: keptId(cur), sources: listSourcesOf(cur.descriptor) });
  });
}

/** `manifest remove LIST DIGEST`: drops one entry (the image stays in the store until gc). */
export async function removeFromList(store: Store, list: string, digest: string, o: Cancellable = {}): Promise<Descriptor> {
  return locked(store, o, async () => {
    const cur = await readList(store, list, o);
    findEntry(cur, digest);
    return writeList(store, cur.name, { ...cur.index, manifests: cur.index.manifests.filter((m) => m.digest !== digest) }, { signal: o.signal, id: keptId(cur), sources: listSourcesOf(cur.descriptor) });
  });
}

/** `manifest rm LIST`: removes the list's name; returns the name and ID removed. EINVALID for an image. */
export async function deleteList(store: Store, list: string, o: Cancellable = {}): Promise<{ name: string; id: string }> {
  return locked(store, o, async () => {
    const cur = await readList(store, list, o);
    await dropUnnamed(store, await store.layout.untag(cur.name, o), o);
    return { name: cur.name, id: listId(cur.descriptor) };
  });
}

/**
 * `manifest push LIST DEST`: copies the list (with `all`, every image in it; without, the index alone — its images
 * must be at the destination already) and returns the pushed digest.
 */
export async function pushList(store: Store, list: string, dest: string, ctx: TransportContext, o: Cancellable & { all?: boolean; format?: 'oci' | 'docker'; removeSignatures?: boolean } = {}): Promise<Digest> {
  const cur = await readList(store, list, o);
  let target = parseImageName(dest);
  if (target.transport === 'plain') target = { transport: 'docker', ref: target.ref };
  const source = await openSource({ transport: 'store', ref: parseReference(cur.name) }, ctx);
  try {
    const dst = await openTarget(target, ctx);
    try {
      const r = await copyImage(source, dst, {
        multiArch: o.all === false ? 'index-only' : 'all',
        ...(o.format && { format: o.format }),
        ...(o.removeSignatures && { removeSignatures: true }),
        ...(o.signal && { signal: o.signal }),
      });
      return r.digest;
    } finally {
      await dst.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Names a list of stored images a build just made (`images`: manifest descriptors, each platform read from its
 * config). With `amend` (buildah's `build --manifest NAME`) they go into the list NAME holds — made when absent,
 * an entry of the same platform replaced, others kept; without, NAME holds a new list of exactly these images
 * (`build --platform a,b -t NAME`), whatever it held before. One lock for the read-modify-write; the name moves
 * only after the new index is written, so a failure leaves the old list. Returns the new list's descriptor.
 */
export async function listBuiltImages(store: Store, input: string, images: readonly Descriptor[], o: Cancellable & { amend?: boolean } = {}): Promise<Descriptor> {
  const entries = await Promise.all(images.map((d) => imageEntry(store, d, o)));
  const name = listName(input);
  return locked(store, o, async () => {
    // a new list of Docker-format images (build --format docker) is a Docker manifest list, else an OCI index
    const docker = entries.length > 0 && entries.every((e) => formatOfMediaType(e.mediaType) === 'docker');
    let base: Index = { schemaVersion: 2, mediaType: indexMediaType(docker ? 'docker' : 'oci'), manifests: [] };
    let id: Digest | undefined;
    let sources: ListSources = {};
    if (o.amend) {
      try {
        const cur = await readList(store, name, o);
        base = cur.index;
        id = keptId(cur);
        sources = listSourcesOf(cur.descriptor);
      } catch (e) {
        if (!isSkiffError(e, 'ENOTFOUND')) throw e;
      }
      const same = (a: Descriptor, b: Descriptor): boolean => a.platform !== undefined && b.platform !== undefined && formatPlatform(a.platform) === formatPlatform(b.platform);
      base = { ...base, manifests: base.manifests.filter((m) => !entries.some((e) => same(e, m))) };
    }
    return writeList(store, name, withEntries(base, entries), { signal: o.signal, ...(id && { id }), sources });
  });
}
