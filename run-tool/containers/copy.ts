import type { Stats } from 'node:fs';
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, posix, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, throwIfAborted } from '../../shared/errors.ts';
import { applyLayer, ownedBy, type ApplyResult } from '../../shared/layer/apply.ts';
import { addPathEntry, sortedEntries, TarWriter, type TreeContext } from '../../shared/layer/tar-write.ts';
import { resolveInRoot } from '../../shared/runtime/in-root.ts';

/*
 * `cp` semantics (podman's, which are Docker's):
 *   source file → dest missing: written as DEST (its parent must exist; `DEST/` is an error)
 *               → dest a file: overwritten            → dest a dir: DEST/basename(SRC)
 *   source dir  → dest missing: created as DEST with SRC's contents (parent must exist)
 *               → dest a file: error                  → dest a dir: DEST/basename(SRC), or SRC's contents when
 *                                                        SRC ends with `/.`
 * Every write goes through applyLayer (confined to the destination directory: in-root symlink resolution,
 * O_NOFOLLOW|O_EXCL creation, never writing through a link) after the destination was resolved in the
 * container's rootfs with resolveInRoot (chroot semantics: a link to /x means the container's /x). The caller
 * keeps the container frozen (paused) or stopped while this runs, so nothing swaps a component meanwhile
 * (RU-08; CVE-2018-15664).
 */

/** Where a copy lands: an existing directory (`dir`, a host path) and the entry name inside it. */
export interface CopyTarget {
  /** existing directory the entries are applied in */
  dir: string;
  /** name of the top entry inside `dir` ('' when SRC's contents go straight into `dir`) */
  name: string;
}

/** What a source is, for the destination rules. */
export interface SourceInfo {
  isDir: boolean;
  /** SRC ended with `/.`: copy its contents */
  contents: boolean;
  /** basename of SRC as given */
  base: string;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/**
 * Applies the destination rules: `resolved` is the destination's host path after following links (in-root for a
 * container, the host's own for a host path), `given` the path as the user wrote it. Throws EINVALID /
 * ENOTFOUND with podman's wording.
 */
export async function copyTarget(resolved: string, given: string, src: SourceInfo): Promise<CopyTarget> {
  const st = await lstat(resolved).catch((e) => {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  });
  if (st?.isDirectory()) return { dir: resolved, name: src.contents ? '' : src.base };
  if (st) {
    if (src.isDir) throw new SkiffError('EINVALID', `cannot copy directory to existing file "${given}"`);
    if (given.endsWith('/')) throw new SkiffError('EINVALID', `"${given}" is not a directory`);
    return { dir: dirname(resolved), name: basename(resolved) };
  }
  if (given.endsWith('/') && !src.isDir) throw new SkiffError('ENOTFOUND', `"${given}" could not be found on the destination: no such file or directory`);
  const parent = dirname(resolved);
  const pst = await lstat(parent).catch(() => undefined);
  if (!pst?.isDirectory()) throw new SkiffError('ENOTFOUND', `"${given}" could not be found on the destination: its parent directory does not exist`);
  return { dir: parent, name: basename(resolved) };
}

/** Whether a path as given asks for the contents of a directory (`dir/.`). */
export function isContentsPath(p: string): boolean {
  return p === '.' || p.endsWith('/.');
}

/**
 * Resolves a path inside a container rootfs (chroot semantics, never out of `rootfs`); with `followLast`
 * false the last component is kept as it is (a symlink is copied as a link, as podman does for a source).
 * Returns the host path; `rootfs` itself for `/`.
 */
export async function resolveContainerPath(rootfs: string, p: string, followLast: boolean): Promise<string> {
  const clean = posix.normalize(`/${p}`);
  if (followLast || clean === '/' || isContentsPath(p) || p.endsWith('/')) return resolveInRoot(rootfs, clean);
  const parent = await resolveInRoot(rootfs, posix.dirname(clean));
  return join(parent, posix.basename(clean));
}

/** Refuses a directory that is not `rootfs` or inside it (after realpath). */
export async function assertInside(rootfs: string, dir: string): Promise<void> {
  const r = await realpath(rootfs);
  const d = await realpath(dir);
  if (d !== r && !d.startsWith(`${r}/`)) throw new SkiffError('EUNSAFE', `copy destination escaped the container root (${dir})`);
}

/** Options of packForCopy. */
export interface PackForCopyOptions {
  /** set every entry's owner (podman's default: the container's user); the source's own when omitted */
  owner?: { uid: number; gid: number };
  onWarning?: (msg: string) => void;
  signal?: AbortSignal;
}

function withOwner(st: Stats, owner?: { uid: number; gid: number }): Stats {
  if (!owner) return st;
  return Object.assign(Object.create(Object.getPrototypeOf(st) as object) as Stats, st, { uid: owner.uid, gid: owner.gid });
}

/**
 * Archives `src` (never following links, the top one included) as a tar stream whose top entry is `name`
 * (its contents only when `name` is ''). Names starting `.wh.` are refused (applyLayer would take them as
 * whiteouts); sockets are skipped with a warning. Errors fail the stream.
 */
export function packForCopy(src: string, name: string, o: PackForCopyOptions = {}): Readable {
  const writer = new TarWriter();
  const ctx: TreeContext = { writer, links: new Map(), xattrs: new Map(), onWarning: o.onWarning ?? (() => {}), signal: o.signal };
  const check = (n: string): void => {
    if (n.startsWith('.wh.')) throw new SkiffError('EINVALID', `cannot copy ${JSON.stringify(n)}: names starting with .wh. are reserved for layer whiteouts`);
  };
  const walk = async (abs: string, prefix: string): Promise<void> => {
    for (const n of await sortedEntries(abs)) {
      throwIfAborted(o.signal);
      check(n);
      const p = join(abs, n);
      const st = await lstat(p);
      await addPathEntry(ctx, p, prefix + n, withOwner(st, o.owner));
      if (st.isDirectory()) await walk(p, `${prefix}${n}/`);
    }
  };
  const run = async (): Promise<void> => {
    const st = await lstat(src);
    if (name === '') {
      if (!st.isDirectory()) throw new SkiffError('EINVALID', `${src} is not a directory`);
      await walk(src, '');
    } else {
      check(name);
      await addPathEntry(ctx, src, name, withOwner(st, o.owner));
      if (st.isDirectory()) await walk(src, `${name}/`);
    }
    writer.finish();
  };
  run().catch((e: Error) => writer.destroy(e));
  return writer.stream;
}

/** Options of applyCopy. */
export interface ApplyCopyOptions {
  /** keep the archive's owners (root only); default true */
  preserveOwnership?: boolean;
  /** give every entry this owner instead of the archive's (cp --archive of a tar on stdin) */
  owner?: { uid: number; gid: number };
  /** the container rootfs the target must stay inside (copy into a container) */
  confineTo?: string;
  onWarning?: (msg: string) => void;
  signal?: AbortSignal;
}

/**
 * Applies a copy's tar stream in `target.dir` with applyLayer's confinement (devices skipped). With
 * `confineTo`, the directory must still be inside that root (checked with realpath right before).
 */
export async function applyCopy(target: CopyTarget, tar: Readable, o: ApplyCopyOptions = {}): Promise<ApplyResult> {
  if (o.confineTo !== undefined) await assertInside(o.confineTo, target.dir);
  return applyLayer(target.dir, tar, {
    mode: 'merged',
    devices: 'skip',
    preserveOwnership: o.preserveOwnership ?? true,
    ...(o.owner && { mapIds: ownedBy(o.owner) }),
    onWarning: o.onWarning,
    signal: o.signal,
  });
}

/** Describes a host source path for the destination rules (follows a final symlink like podman for host sources). */
export async function hostSourceInfo(p: string): Promise<{ info: SourceInfo; abs: string }> {
  const st = await stat(p).catch((e) => {
    if (errno(e) === 'ENOENT') throw new SkiffError('ENOTFOUND', `"${p}" could not be found on the host: no such file or directory`);
    throw e;
  });
  const abs = await realpath(p);
  return { info: { isDir: st.isDirectory(), contents: isContentsPath(p) && st.isDirectory(), base: basename(p.replace(/\/+$/, '')) || basename(abs) }, abs };
}

/** The container's primary uid/gid from its runtime config (podman's default owner of copied-in files). */
export async function containerOwner(bundle: string): Promise<{ uid: number; gid: number }> {
  try {
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as { process?: { user?: { uid?: number; gid?: number } } };
    return { uid: spec.process?.user?.uid ?? 0, gid: spec.process?.user?.gid ?? 0 };
  } catch {
    return { uid: 0, gid: 0 };
  }
}

/** The path relative to `root` (for messages). */
export function inRootName(root: string, p: string): string {
  return `/${relative(root, p)}`;
}

/** The caller's uid/gid: the owner of what `cp` copies out of a container. */
export function callerIds(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}
