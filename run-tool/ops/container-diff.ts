import { closeSync, constants as C, openSync, type Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, isSkiffError, throwIfAborted, type Cancellable } from '../../shared/errors.ts';
import { fdPath } from '../../shared/layer/confined-root.ts';
import { readTreeXattrs } from '../../shared/layer/xattr.ts';
import type { Store } from '../../shared/store/store.ts';
import { decompress } from '../../shared/layer/compression.ts';
import { forEachTarEntry } from '../../shared/layer/tar-read.ts';
import { readRunImage, type RunImage } from '../containers/create.ts';
import { mountTargets } from '../containers/mount-targets.ts';
import { lowersOf } from '../containers/rootfs-mount.ts';
import { containerPaths, loadContainer } from '../containers/state.ts';

// The diff operation (podman's `diff`): what a container changed against its image, read from its overlay upper
// dir and the image's unpacked lower dirs. Nothing is mounted and nothing is followed: every path is lstat'ed.

/** One change: `A` added, `C` changed, `D` deleted, and the absolute path in the container. */
export interface FsChange {
  kind: 'A' | 'C' | 'D';
  path: string;
}

/** Paths the runtime creates in every container (podman's list): never reported as changes. */
const RUNTIME_PATHS = new Set(['/dev', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/proc', '/run', '/run/notify', '/run/.containerenv', '/run/secrets', '/run/podman-init', '/sys', '/etc/mtab']);

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(x: ReadonlyMap<string, Buffer> | undefined): boolean {
  const v = x?.get('trusted.overlay.opaque') ?? x?.get('user.overlay.opaque');
  return v?.toString() === 'y';
}

/**
 * lstat of `rel` under the tree `base` without following any symlink on the way: undefined when a parent
 * component is missing or not a real directory, or the path itself is missing (a lower's symlinked parent
 * never leads the check out of the tree).
 */
async function lstatInTree(base: string, rel: readonly string[]): Promise<Stats | undefined> {
  let cur = base;
  for (let i = 0; i < rel.length; i++) {
    cur = join(cur, rel[i]!);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) return undefined;
    if (i < rel.length - 1 && !st.isDirectory()) return undefined;
  }
  return lstat(cur).catch(() => undefined);
}

/** Whether `rel` exists in the stack of lower dirs (top first), honouring whiteouts and opaque dirs of the lowers. */
async function inLowers(lowersTopFirst: readonly string[], rel: readonly string[]): Promise<boolean> {
  for (const l of lowersTopFirst) {
    const st = await lstatInTree(l, rel);
    if (st === undefined) continue;
    return !isWhiteout(st);
  }
  return false;
}

/** The names in directory `rel` across the lower dirs (top first). */
async function lowerNames(lowersTopFirst: readonly string[], rel: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const l of lowersTopFirst) {
    const st = await lstatInTree(l, rel);
    if (!st?.isDirectory()) continue;
    for (const n of await readdir(join(l, ...rel)).catch(() => [] as string[])) out.add(n);
  }
  return out;
}

/**
 * The changes of container `nameOrId` against its image, sorted by path (byte order) as podman prints them:
 * a whiteout is `D`; a path in the upper dir that the image has is `C`, one it lacks is `A` (a directory's
 * contents are walked); an opaque directory also reports the image's entries under it as `D`. Paths the
 * runtime creates (podman's list, and the runtime config's mount targets) are left out. Read-only: works on a
 * running, stopped or created container alike and never follows a symlink (LA-20). ENOTFOUND for an unknown
 * container (loadContainer's message).
 */
export async function diffContainer(store: Store, nameOrId: string, o: Cancellable = {}): Promise<FsChange[]> {
  const c = await loadContainer(store.paths.root, nameOrId);
  const p = containerPaths(store.paths.root, c.record.id);
  const lowers = (await lowersOf(store, c.record)).reverse();
  const skip = new Set([...RUNTIME_PATHS, ...[...(await mountTargets(p.bundle))].map((t) => `/${t}`)]);
  const xattrs = await readTreeXattrs(p.upper, o).catch(() => new Map<string, Map<string, Buffer>>());
  const out: FsChange[] = [];
  // The walk holds each directory open (O_NOFOLLOW) and reaches its entries through /proc/self/fd/N: a running
  // container swapping a directory for a symlink meanwhile cannot lead the walk out of its upper dir.
  const openDir = (path: string): number | undefined => {
    try {
      return openSync(path, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
    } catch {
      return undefined; // gone, or no longer a directory
    }
  };
  const walk = async (fd: number, rel: string[]): Promise<void> => {
    throwIfAborted(o.signal);
    const here = fdPath(fd);
    const names = await readdir(here).catch(() => [] as string[]);
    for (const name of names) {
      const r = [...rel, name];
      const path = `/${r.join('/')}`;
      const st = await lstat(join(here, name)).catch(() => undefined);
      if (st === undefined) continue;
      const report = !skip.has(path);
      if (report && isWhiteout(st)) {
        if (await inLowers(lowers, r)) out.push({ kind: 'D', path });
        continue;
      }
      const existed = report && (await inLowers(lowers, r));
      if (report) out.push({ kind: existed ? 'C' : 'A', path });
      if (!st.isDirectory()) continue;
      const child = openDir(join(here, name));
      if (child === undefined) continue;
      try {
        if (existed && isOpaque(xattrs.get(join(p.upper, ...r)))) {
          const kept = new Set(await readdir(fdPath(child)));
          for (const n of await lowerNames(lowers, r)) if (!kept.has(n)) out.push({ kind: 'D', path: `${path}/${n}` });
        }
        await walk(child, r);
      } finally {
        closeSync(child);
      }
    }
  };
  const top = openDir(p.upper);
  if (top !== undefined) {
    try {
      await walk(top, []);
    } finally {
      closeSync(top);
    }
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** The cleaned absolute path of an archive name (`./a/b/` → `/a/b`). Pure. */
function entryPath(name: string): string {
  return `/${name.split('/').filter((c) => c !== '' && c !== '.').join('/')}`;
}

/** The paths one layer's tar holds after its whiteouts, applied over `paths` (mutated). */
async function applyLayerPaths(store: Store, img: RunImage, i: number, paths: Set<string>, o: Cancellable, onEntry?: (path: string, whiteout: boolean) => void): Promise<void> {
  const { stream } = await decompress(await store.blobs.open(img.layers[i]!.desc, o), { signal: o.signal });
  const removeUnder = (dir: string): void => {
    for (const p of paths) if (p.startsWith(`${dir}/`)) paths.delete(p);
  };
  await forEachTarEntry(
    stream,
    (h) => {
      const path = entryPath(h.name);
      const base = path.slice(path.lastIndexOf('/') + 1);
      const parent = path.slice(0, path.lastIndexOf('/'));
      if (base === '.wh..wh..opq') return void removeUnder(parent);
      if (base.startsWith('.wh.')) {
        const gone = `${parent}/${base.slice(4)}`;
        onEntry?.(gone, true);
        paths.delete(gone);
        removeUnder(gone);
        return;
      }
      onEntry?.(path, false);
      paths.add(path);
    },
    { signal: o.signal },
  );
}

/**
 * The changes of image `input`'s top layer against the layers below it, as podman's `diff IMAGE` prints them: an
 * entry the lower layers lack is `A`, one they have is `C`, a whiteout of an existing path is `D`; sorted by path;
 * the runtime's paths (podman's list) are left out here too.
 * Layers are streamed (names only), never unpacked. ENOTFOUND when no such image exists.
 */
export async function diffImage(store: Store, input: string, o: Cancellable = {}): Promise<FsChange[]> {
  const img = await readRunImage(store, input, o);
  if (img.layers.length === 0) return [];
  const lower = new Set<string>();
  for (let i = 0; i < img.layers.length - 1; i++) await applyLayerPaths(store, img, i, lower, o);
  const out = new Map<string, FsChange>();
  await applyLayerPaths(store, img, img.layers.length - 1, new Set(), o, (path, whiteout) => {
    if (path === '/' || RUNTIME_PATHS.has(path)) return;
    if (whiteout) {
      if (lower.has(path)) out.set(path, { kind: 'D', path });
    } else out.set(path, { kind: lower.has(path) ? 'C' : 'A', path });
  });
  return [...out.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/**
 * `diff NAME` as podman resolves it: a container first, else an image. ENOTFOUND "NAME not found: layer not known"
 * when neither exists.
 */
export async function diffContainerOrImage(store: Store, name: string, o: Cancellable = {}): Promise<FsChange[]> {
  try {
    return await diffContainer(store, name, o);
  } catch (e) {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  }
  try {
    return await diffImage(store, name, o);
  } catch (e) {
    if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) throw new SkiffError('ENOTFOUND', `${name} not found: layer not known`, { cause: e });
    throw e;
  }
}

/** podman's `diff --format json` document: the paths by kind, each key present only when it has paths. */
export function changesJson(changes: readonly FsChange[]): { changed?: string[]; added?: string[]; deleted?: string[] } {
  const pick = (k: FsChange['kind']): string[] => changes.filter((c) => c.kind === k).map((c) => c.path);
  const [changed, added, deleted] = [pick('C'), pick('A'), pick('D')];
  return { ...(changed.length > 0 && { changed }), ...(added.length > 0 && { added }), ...(deleted.length > 0 && { deleted }) };
}
