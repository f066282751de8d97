/**
 * buildah's working containers, kept in the store: one JSON record per container under
 * `<store>/working-containers/<id>.json`, written atomically (temp, fsync, rename), names unique under one lock.
 * A container's filesystem is an image in the store (`image`: its ID, unnamed until committed): each scripted
 * step (`run`, `copy`, `config`) builds one step on top of it through the build executor and moves `image` to the
 * result, so a step that fails leaves the container as it was.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../errors.ts';
import { writeFileAtomic } from '../../store/atomic.ts';
import { withLock } from '../../store/lock.ts';
import { Annotation } from '../../oci/media-types.ts';
import { openStore } from '../../store/store.ts';
import { compareTimestamps } from '../../time/compare-timestamps.ts';

/** One working container's record. */
export interface WorkingContainer {
  /** 64 lowercase hex */
  id: string;
  name: string;
  /** the image it was made from, as found (full name), or `scratch` */
  fromImage: string;
  /** its image ID (`sha256:…`), '' for scratch */
  fromImageId: string;
  /** its manifest digest, '' for scratch */
  fromImageDigest: string;
  /** the image holding the container's current filesystem and config (`sha256:…` ID), '' while scratch is empty */
  image: string;
  /** image IDs committed from this container (kept when the container moves on) */
  committed: string[];
  created: string;
}

/** The directory of the records. */
export function containersDir(storeRoot: string): string {
  return join(storeRoot, 'working-containers');
}

function recordPath(storeRoot: string, id: string): string {
  return join(containersDir(storeRoot), `${id}.json`);
}

/** Runs `fn` holding the working-container lock (names are allocated and records replaced under it). */
export async function withContainersLock<T>(storeRoot: string, o: Cancellable, fn: () => Promise<T>): Promise<T> {
  await mkdir(containersDir(storeRoot), { recursive: true, mode: 0o700 });
  return withLock(join(containersDir(storeRoot), '.lock'), { signal: o.signal }, fn);
}

/** Every record (unreadable or half-written files are skipped: writes are atomic, so none is torn). */
export async function listContainers(storeRoot: string): Promise<WorkingContainer[]> {
  const names = await readdir(containersDir(storeRoot)).catch(() => [] as string[]);
  const out: WorkingContainer[] = [];
  for (const n of names.filter((x) => /^[0-9a-f]{64}\.json$/u.test(x)).sort()) {
    const text = await readFile(join(containersDir(storeRoot), n), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      out.push(JSON.parse(text) as WorkingContainer);
    } catch {
      /* not a record */
    }
  }
  return out.sort((a, b) => compareTimestamps(a.created, b.created));
}

/** The container named `nameOrId` (name, full ID or unique ID prefix); ENOTFOUND "container not known". */
export async function findContainer(storeRoot: string, nameOrId: string): Promise<WorkingContainer> {
  const all = await listContainers(storeRoot);
  const hit = all.find((c) => c.name === nameOrId) ?? all.find((c) => c.id === nameOrId);
  if (hit) return hit;
  const pre = /^[0-9a-f]{3,63}$/u.test(nameOrId) ? all.filter((c) => c.id.startsWith(nameOrId)) : [];
  if (pre.length === 1) return pre[0]!;
  throw new SkiffError('ENOTFOUND', `${JSON.stringify(nameOrId)}: container not known`, { hint: 'list working containers with `containers`' });
}

/** buildah's default name: the image's last path component without tag or digest, `-working-container`. */
export function defaultName(image: string): string {
  if (image === 'scratch') return 'working-container';
  const last = image.replace(/@.*$/u, '').split('/').pop() ?? image;
  const base = last.replace(/:[^:]*$/u, '');
  return `${/^[0-9a-f]{64}$/u.test(base.replace(/^sha256:/u, '')) ? 'working' : base}-working-container`;
}

/**
 * Saves a new container under `wanted` (must be free) or the first free `<default>`, `<default>-1`, … name, as
 * buildah picks them. Returns the record saved.
 */
export async function createContainer(storeRoot: string, c: Omit<WorkingContainer, 'id' | 'name' | 'created' | 'committed'>, o: Cancellable & { name?: string } = {}): Promise<WorkingContainer> {
  return withContainersLock(storeRoot, o, async () => {
    const taken = new Set((await listContainers(storeRoot)).map((x) => x.name));
    let name = o.name;
    if (name !== undefined) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/u.test(name)) throw new SkiffError('EINVALID', `invalid container name ${JSON.stringify(name)}`, { hint: 'use letters, digits, _ . and -' });
      if (taken.has(name)) throw new SkiffError('EEXIST', `the container name "${name}" is already in use`, { hint: 'remove it with `rm` or pick another --name' });
    } else {
      const base = defaultName(c.fromImage);
      name = base;
      for (let i = 1; taken.has(name); i++) name = `${base}-${i}`;
    }
    const rec: WorkingContainer = { id: randomBytes(32).toString('hex'), name, ...c, committed: [], created: new Date().toISOString() };
    await writeFileAtomic(recordPath(storeRoot, rec.id), JSON.stringify(rec), 0o600);
    return rec;
  });
}

/** Replaces a record (atomically); `update` sees the latest saved record. Returns the saved one. */
export async function updateContainer(storeRoot: string, id: string, update: (c: WorkingContainer) => WorkingContainer, o: Cancellable = {}): Promise<WorkingContainer> {
  return withContainersLock(storeRoot, o, async () => {
    const cur = (await listContainers(storeRoot)).find((c) => c.id === id);
    if (!cur) throw new SkiffError('ENOTFOUND', `container ${id.slice(0, 12)} was removed`);
    const next = update(cur);
    await writeFileAtomic(recordPath(storeRoot, id), JSON.stringify(next), 0o600);
    return next;
  });
}

/** Deletes a record. Idempotent. */
export async function deleteContainer(storeRoot: string, id: string): Promise<void> {
  await rm(recordPath(storeRoot, id), { force: true });
}

/**
 * Drops the index.json entry of step image `id` the container `c` has moved past, unless it is the container's base
 * image or was committed from it, or carries a name (its blobs go at the next gc unless still referenced).
 */
export async function dropStepImage(storeRoot: string, c: WorkingContainer, id: string, o: Cancellable = {}): Promise<void> {
  if (id === '' || id === c.fromImageId || c.committed.includes(id)) return;
  const store = await openStore(storeRoot, { create: true, write: true, signal: o.signal });
  try {
    const entries = await store.layout.entries(o);
    const named = new Set(entries.filter((e) => e.annotations?.[Annotation.RefName] !== undefined).map((e) => e.digest));
    for (const e of entries) {
      if (named.has(e.digest)) continue;
      if ((await store.layout.configDigest(e, o)) === id) await store.layout.remove(e.digest, o);
    }
  } finally {
    await store.close();
  }
}

/**
 * The image IDs (64 hex, no `sha256:`) working containers hold: each one's current image and base image. Prunes keep
 * these, as podman's prune keeps images buildah's containers use.
 */
export async function workingImageIds(storeRoot: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const c of await listContainers(storeRoot)) {
    for (const id of [c.image, c.fromImageId]) if (id !== '') out.add(id.replace(/^sha256:/u, ''));
  }
  return out;
}
