import { constants as C } from 'node:fs';
import { lstat, mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSkiffError, SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { isDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { Annotation, INDEX_MEDIA_TYPES, MediaType } from '../oci/media-types.ts';
import type { Descriptor } from '../oci/types.ts';
import { writeFileAtomic } from './atomic.ts';
import { BlobStore, type BlobStoreOptions } from './blob-store.ts';
import { parseDescriptor } from '../oci/validate.ts';
import { withLock } from './lock.ts';
import { parseRefName } from '../oci/ref-name.ts';
import { sessionFor } from './session.ts';

/** image-layout version skiff reads and writes. */
export const LAYOUT_VERSION = '1.0.0';
/** Largest index.json read (LS-16): ~100k entries. */
export const INDEX_JSON_CAP = 32 * 1024 * 1024;

/** Options of openLayout. */
export interface LayoutOptions {
  /** Create an empty layout (dirs 0700) when `dir` holds none; never repairs a partial one. */
  create?: boolean;
  /** Lock file serialising index.json updates; never renamed. Default `<dir>/.skiff-index.lock`. */
  lockPath?: string;
  /** Where this process's private temp dirs live (same filesystem). Default `<dir>/.skiff-tmp`. */
  tmpRoot?: string;
  /** See BlobStoreOptions.guard (the store passes its lease + shared gc lock step). */
  guard?: BlobStoreOptions['guard'];
  signal?: AbortSignal;
}

/** The parsed index.json: the document as read (unknown fields kept) and its validated entries. */
interface IndexDoc {
  doc: Record<string, unknown>;
  manifests: Descriptor[];
}

function layoutError(dir: string, problem: string, cause?: unknown): SkiffError {
  return new SkiffError('ELAYOUT', `invalid OCI layout at ${dir}: ${problem}`, {
    hint: 'the directory is not a valid OCI image layout; fix or remove it (skiff does not repair layouts)',
    ...(cause === undefined ? {} : { cause }),
  });
}

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads a small regular file without following symlinks; ELAYOUT when it is not a regular file or too big. */
async function readRegular(dir: string, name: string, cap: number): Promise<string> {
  const p = join(dir, name);
  const st = await lstatOrUndefined(p);
  if (!st) throw layoutError(dir, `${name} is missing`);
  if (st.isSymbolicLink()) throw layoutError(dir, `${name} is a symlink`);
  if (!st.isFile()) throw layoutError(dir, `${name} is not a regular file`);
  if (st.size > cap) throw new SkiffError('ELIMIT', `${p} is ${st.size} bytes, over the ${cap}-byte limit`);
  let fh;
  try {
    fh = await open(p, C.O_RDONLY | C.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw layoutError(dir, `${name} is a symlink`, e);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw layoutError(dir, `${name} is missing`, e);
    throw e;
  }
  try {
    // Sized from the stat (not the cap: index.json is usually small), grown if the file grew since.
    let buf = Buffer.allocUnsafe(Math.min(st.size, cap) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > cap) throw new SkiffError('ELIMIT', `${p} is over the ${cap}-byte limit`);
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, cap + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > cap) throw new SkiffError('ELIMIT', `${p} is over the ${cap}-byte limit`);
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** A manifest list's stable ID from its index.json entry (Annotation.ListId), when it is an index carrying a valid one. Pure. */
export function listIdOf(d: Descriptor): Digest | undefined {
  const v = d.annotations?.[Annotation.ListId];
  return INDEX_MEDIA_TYPES.has(d.mediaType) && v !== undefined && isDigest(v) ? v : undefined;
}

function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[Annotation.RefName];
}

function withoutAnnotation(d: Descriptor, ...keys: string[]): Descriptor {
  if (!d.annotations) return d;
  const a = { ...d.annotations };
  for (const k of keys) delete a[k];
  const { annotations: _drop, ...rest } = d;
  return Object.keys(a).length ? { ...rest, annotations: a } : rest;
}

function markDangling(d: Descriptor): Descriptor {
  const u = withoutAnnotation(d, Annotation.RefName);
  return { ...u, annotations: { ...u.annotations, [Annotation.Dangling]: 'true' } };
}

/**
 * Enforces index.json's invariants after any edit: one entry per name (the last one wins); unnamed
 * entries are dropped when their digest is still named, and collapsed when duplicated; a named entry never
 * carries the dangling mark.
 */
function normalise(entries: readonly Descriptor[]): Descriptor[] {
  const lastByName = new Map<string, number>();
  entries.forEach((e, i) => {
    const n = refNameOf(e);
    if (n !== undefined) lastByName.set(n, i);
  });
  const named = new Set<string>();
  for (const i of lastByName.values()) named.add(entries[i]!.digest);
  const seenUnnamed = new Set<string>();
  const out: Descriptor[] = [];
  entries.forEach((e, i) => {
    const n = refNameOf(e);
    if (n !== undefined) {
      if (lastByName.get(n) === i) out.push(e.annotations?.[Annotation.Dangling] ? withoutAnnotation(e, Annotation.Dangling) : e);
      return;
    }
    if (named.has(e.digest) || seenUnnamed.has(e.digest)) return;
    seenUnnamed.add(e.digest);
    out.push(e);
  });
  return out;
}

// manifest digest → config digest (null: not an image manifest). Content-addressed, so valid for any layout.
const configMemo = new Map<Digest, Digest | null>();

/** What findImage resolved: the index.json entry and, for image manifests, the image ID (config digest). */
export interface FoundImage {
  descriptor: Descriptor;
  /** The config digest — the image ID, as podman's; undefined for indexes and unknown manifests. */
  id?: Digest;
}

/**
 * An OCI image layout (image-spec image-layout v1.0.0): `oci-layout`, `index.json`, `blobs/sha256/<hex>`.
 *
 * index.json is only replaced atomically (writeFileAtomic: temp, fsync, rename, fsync dir), so readers never
 * see a torn file and need no lock. Writers do read-modify-write under an exclusive lock on a separate lock
 * file that is never renamed, so concurrent writers (processes or not) lose no update (LS-09). Names are
 * annotation values only, never paths.
 */
export class Layout {
  readonly dir: string;
  readonly blobs: BlobStore;
  readonly lockPath: string;

  constructor(dir: string, blobs: BlobStore, lockPath: string) {
    this.dir = dir;
    this.blobs = blobs;
    this.lockPath = lockPath;
  }

  /** Reads and validates index.json (LS-05, LS-07, LS-16). */
  async #read(): Promise<IndexDoc> {
    const text = await readRegular(this.dir, 'index.json', INDEX_JSON_CAP);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw layoutError(this.dir, `index.json is not valid JSON (${(e as Error).message})`, e);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw layoutError(this.dir, 'index.json is not a JSON object');
    const o = doc as Record<string, unknown>;
    if (o.schemaVersion !== 2) throw layoutError(this.dir, `index.json schemaVersion is ${JSON.stringify(o.schemaVersion)}, expected 2`);
    if (!Array.isArray(o.manifests)) throw layoutError(this.dir, 'index.json has no manifests array');
    const manifests = o.manifests.map((m, i) => {
      try {
        return parseDescriptor(m, `index.json manifests[${i}]`);
      } catch (e) {
        if (isSkiffError(e)) throw new SkiffError(e.code, `${this.dir}: ${e.message}`, { cause: e, hint: 'index.json holds an invalid entry; skiff will not use or repair it' });
        throw e;
      }
    });
    return { doc: o, manifests };
  }

  /** All index.json entries, validated. */
  async entries(_o: Cancellable = {}): Promise<Descriptor[]> {
    return (await this.#read()).manifests;
  }

  /** The entry named exactly `name` (full normalised reference); ENOTFOUND otherwise. */
  async resolve(name: string, o: Cancellable = {}): Promise<Descriptor> {
    parseRefName(name);
    const e = (await this.entries(o)).find((d) => refNameOf(d) === name);
    if (!e) throw new SkiffError('ENOTFOUND', `image ${name} not found in ${this.dir}`);
    return e;
  }

  /** Runs `fn` on a copy of `manifests` and returns its value, the validated, normalised result and whether it differs. */
  async #edit<T>(manifests: Descriptor[], fn: (entries: Descriptor[]) => T | Promise<T>): Promise<{ r: T; next: Descriptor[]; changed: boolean }> {
    const before = JSON.stringify(manifests);
    const work = manifests.slice();
    const r = await fn(work);
    const next = normalise((Array.isArray(r) ? (r as Descriptor[]) : work).map((d, i) => parseDescriptor(d, `new index.json entry ${i}`)));
    for (const d of next) {
      const n = refNameOf(d);
      if (n !== undefined) parseRefName(n);
    }
    return { r, next, changed: JSON.stringify(next) !== before };
  }

  /**
   * Whether index.json names `desc` (same digest, media type and size) by every name in `names` (full normalised
   * references; false for an empty list). One read, no lock: index.json is only ever replaced whole.
   */
  async names(names: readonly string[], desc: Descriptor, o: Cancellable = {}): Promise<boolean> {
    if (names.length === 0) return false;
    const entries = await this.entries(o);
    return names.every((n) => entries.some((e) => refNameOf(e) === n && e.digest === desc.digest && e.mediaType === desc.mediaType && e.size === desc.size));
  }

  /**
   * Read-modify-write of index.json under the layout's index lock; `fn` may edit the array in place or
   * return a new one. The result is validated and normalised, then written atomically. Returns fn's value
   * (when fn returns an array, that array is the new entry list and is also returned).
   *
   * With `unchangedWithoutLock` (only for a pure `fn`), `fn` first runs on a snapshot read without the lock; when
   * it changes nothing there, that is the result and no lock is taken. This is safe because index.json is only
   * ever replaced whole by rename, so the snapshot is a state the file really had: the update is ordered at
   * that read, where a locked update would have found nothing to change either, and any writer after it is
   * simply later (last commit wins). A snapshot that needs a change goes through the locked path, which reads again.
   */
  async update<T>(fn: (entries: Descriptor[]) => T | Promise<T>, o: Cancellable & { unchangedWithoutLock?: boolean } = {}): Promise<T> {
    throwIfAborted(o.signal);
    if (o.unchangedWithoutLock) {
      const snap = await this.#edit((await this.#read()).manifests, fn);
      if (!snap.changed) return snap.r;
    }
    return withLock(this.lockPath, o.signal ? { signal: o.signal } : {}, async () => {
      const { doc, manifests } = await this.#read();
      const { r, next, changed } = await this.#edit(manifests, fn);
      if (changed) {
        throwIfAborted(o.signal);
        await writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify({ ...doc, schemaVersion: 2, manifests: next }), 0o644);
      }
      return r;
    });
  }

  /**
   * Names `desc` `name` (LS-11: last commit wins). The image that held the name before stays in index.json
   * without a name, marked dangling (unless another entry still references its digest). Returns that
   * previous descriptor, if the name moved. Idempotent. Does not check that blobs exist: see commitImage.
   */
  async tag(name: string, desc: Descriptor, o: Cancellable = {}): Promise<Descriptor | undefined> {
    parseRefName(name);
    const d = withoutAnnotation(parseDescriptor({ ...desc }, 'descriptor to tag'), Annotation.Dangling);
    return this.update((entries) => {
      let previous: Descriptor | undefined;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (refNameOf(e) !== name) continue;
        if (e.digest !== d.digest) previous = e;
        entries[i] = markDangling(e);
      }
      entries.push({ ...d, annotations: { ...d.annotations, [Annotation.RefName]: name } });
      return previous;
    }, { ...o, unchangedWithoutLock: true });
  }

  /** Removes a name; the image stays as a dangling entry (unless still named otherwise). ENOTFOUND if absent. */
  async untag(name: string, o: Cancellable = {}): Promise<Descriptor> {
    parseRefName(name);
    return this.update((entries) => {
      const i = entries.findIndex((e) => refNameOf(e) === name);
      if (i < 0) throw new SkiffError('ENOTFOUND', `image ${name} not found in ${this.dir}`);
      const e = entries[i]!;
      entries[i] = markDangling(e);
      return e;
    }, o);
  }

  /** Records an unnamed (intermediate) image, marked dangling, so gc keeps it and prune can find it. Idempotent. */
  async addUnnamed(desc: Descriptor, o: Cancellable = {}): Promise<void> {
    const d = parseDescriptor({ ...desc }, 'descriptor');
    await this.update((entries) => {
      if (!entries.some((e) => e.digest === d.digest)) entries.push(markDangling(d));
    }, o);
  }

  /** Removes every entry with manifest digest `digest`; returns how many were removed. Blobs stay until gc. */
  async remove(digest: string, o: Cancellable = {}): Promise<number> {
    const d = parseDigest(digest);
    return this.update((entries) => {
      const n = entries.length;
      const keep = entries.filter((e) => e.digest !== d);
      entries.splice(0, entries.length, ...keep);
      return n - keep.length;
    }, o);
  }

  /** The config digest (image ID) of an image-manifest entry; undefined for indexes, artifacts without one, and missing or damaged manifests. Memoised per process (damage is not). */
  async configDigest(desc: Descriptor, o: Cancellable = {}): Promise<Digest | undefined> {
    const memo = configMemo.get(desc.digest);
    if (memo !== undefined) return memo ?? undefined;
    if (INDEX_MEDIA_TYPES.has(desc.mediaType)) return undefined;
    let m: unknown;
    try {
      m = await this.blobs.readJson(desc, o);
    } catch (e) {
      // missing or damaged (digest, size, not a file, not JSON): no ID can be read; the entry is found by its
      // manifest digest, so a damaged image can still be named and removed
      if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINTEGRITY') || isSkiffError(e, 'EBADSIZE') || isSkiffError(e, 'ELAYOUT') || isSkiffError(e, 'EINVALID')) return undefined;
      throw e;
    }
    const c = (m as { config?: { digest?: unknown }; manifests?: unknown } | null)?.config?.digest;
    const id = typeof c === 'string' && isDigest(c) && !Array.isArray((m as { manifests?: unknown }).manifests) ? c : null;
    configMemo.set(desc.digest, id);
    return id ?? undefined;
  }

  /**
   * The image ID of an entry: its config digest, or for a manifest list the stable ID its entry carries
   * (listIdOf); undefined for an index without one and for missing or damaged manifests.
   */
  async imageId(desc: Descriptor, o: Cancellable = {}): Promise<Digest | undefined> {
    return listIdOf(desc) ?? (await this.configDigest(desc, o));
  }

  /**
   * Finds an image by ID: a full config digest (`sha256:<hex>` or 64 hex), a unique hex prefix of ≥ 3
   * characters of a config digest, or a manifest digest (full or prefix). ENOTFOUND when nothing matches,
   * EINVALID "ambiguous" when a prefix matches different images.
   */
  async findImage(idOrPrefix: string, o: Cancellable = {}): Promise<FoundImage> {
    const hex = idOrPrefix.startsWith('sha256:') ? idOrPrefix.slice(7) : idOrPrefix;
    if (!/^[a-f0-9]{3,64}$/.test(hex)) {
      throw new SkiffError('EINVALID', `invalid image ID ${JSON.stringify(idOrPrefix.slice(0, 80))}: expected at least 3 lowercase hex characters`);
    }
    const full = hex.length === 64;
    const matches = new Map<Digest, FoundImage>();
    for (const e of await this.entries(o)) {
      const id = await this.imageId(e, o);
      const hit = (d: Digest | undefined): boolean => d !== undefined && (full ? d.slice(7) === hex : d.slice(7).startsWith(hex));
      if (hit(id) || hit(e.digest)) {
        const prev = matches.get(e.digest);
        if (!prev || (refNameOf(prev.descriptor) === undefined && refNameOf(e) !== undefined)) matches.set(e.digest, { descriptor: e, id });
      }
    }
    const found = [...matches.values()];
    if (found.length === 0) throw new SkiffError('ENOTFOUND', `no image with ID ${idOrPrefix} in ${this.dir}`);
    // Several manifests may share one config (e.g. re-compressed copies): same ID, still one image to the user.
    const ids = new Set(found.map((f) => f.id ?? f.descriptor.digest));
    if (ids.size > 1) {
      throw new SkiffError('EINVALID', `image ID prefix ${idOrPrefix} is ambiguous: it matches ${ids.size} images`, { hint: 'give more characters of the ID' });
    }
    return found[0]!;
  }
}

/**
 * Opens (or, with `create`, makes) an OCI image layout, validating it first (LS-07): `oci-layout` must be a
 * regular file with imageLayoutVersion "1.0.0", `blobs` a directory, `index.json` a regular file (not a
 * symlink or directory) holding a JSON object with schemaVersion 2 and a `manifests` array of valid
 * descriptors. Anything else is ELAYOUT naming the problem; nothing is repaired. A new layout's dirs are
 * 0700 whatever the umask (LS-18); creation runs under the index lock and writes `oci-layout` last, so
 * concurrent creators agree and a half-made layout is detected, not overwritten.
 */
export async function openLayout(dir: string, o: LayoutOptions = {}): Promise<Layout> {
  throwIfAborted(o.signal);
  const lockPath = o.lockPath ?? join(dir, '.skiff-index.lock');
  const tmpRoot = o.tmpRoot ?? join(dir, '.skiff-tmp');
  const session = sessionFor(tmpRoot);
  const blobs = new BlobStore(dir, {
    tempDir: (x) => session.dir(x),
    guard: o.guard,
  });
  const layout = new Layout(dir, blobs, lockPath);
  const rootSt = await lstatOrUndefined(dir);
  if (rootSt && !rootSt.isDirectory() && !(await stat(dir).then((s) => s.isDirectory()).catch(() => false))) {
    throw layoutError(dir, 'it is not a directory');
  }
  if (!rootSt && !o.create) throw layoutError(dir, 'the directory does not exist');
  if (o.create && !(await lstatOrUndefined(join(dir, 'oci-layout')))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await withLock(lockPath, o.signal ? { signal: o.signal } : {}, async () => {
      if (await lstatOrUndefined(join(dir, 'oci-layout'))) return; // another creator won
      if (await lstatOrUndefined(join(dir, 'index.json'))) throw layoutError(dir, 'oci-layout is missing but index.json exists');
      await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }), 0o644);
      await writeFileAtomic(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }), 0o644);
    });
  }
  let marker: unknown;
  const text = await readRegular(dir, 'oci-layout', 64 * 1024);
  try {
    marker = JSON.parse(text);
  } catch (e) {
    throw layoutError(dir, 'oci-layout is not valid JSON', e);
  }
  const v = (marker as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
  if (typeof marker !== 'object' || marker === null || Array.isArray(marker) || v === undefined) {
    throw layoutError(dir, 'oci-layout has no imageLayoutVersion');
  }
  if (v !== LAYOUT_VERSION) throw layoutError(dir, `unsupported imageLayoutVersion ${JSON.stringify(v)} (expected "${LAYOUT_VERSION}")`);
  const b = await lstatOrUndefined(join(dir, 'blobs'));
  if (!b) throw layoutError(dir, 'blobs is missing');
  if (!b.isDirectory()) throw layoutError(dir, 'blobs is not a directory');
  await layout.entries();
  return layout;
}
