import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readlink, realpath, rm } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError } from '../../shared/errors.ts';
import { readTar } from '../../shared/layer/tar-read.ts';
import type { Store } from '../../shared/store/store.ts';
import {
  applyCopy, callerIds, containerOwner, copyTarget, hostSourceInfo, isContentsPath, packForCopy, resolveContainerPath,
} from '../containers/copy.ts';
import { withContainerRootfs } from '../containers/rootfs-access.ts';
import { loadContainer } from '../containers/state.ts';

// The copy operations (podman's `cp`): files into and out of a container, running (frozen with runc pause while
// the copy runs, RU-08) or not (its overlay mounted for the copy).

/** copyIntoContainer's and copyOutOfContainer's options. */
export interface CopyOptions {
  /**
   * Into a container: what is copied in is owned by the container's primary uid/gid (podman's `--archive`,
   * the default); false keeps the source's owners. Out of a container the copy always belongs to the caller.
   */
  archive?: boolean;
  /** What was skipped or could not be kept (a special file, an owner). */
  onWarning?: (m: string) => void;
  signal?: AbortSignal;
}

/**
 * Copies host path `source` — or, as a `{ tar }`, the entries of a tar stream into directory `path` — to `path` in
 * container `nameOrId`, confined to its root filesystem.
 */
export async function copyIntoContainer(store: Store, nameOrId: string, path: string, source: string | { tar: Readable }, o: CopyOptions = {}): Promise<void> {
  const so = { signal: o.signal };
  const warn = o.onWarning ?? (() => {});
  const archive = o.archive !== false;
  const c = await loadContainer(store.paths.root, nameOrId);
  await withContainerRootfs(store, c.record.id, async ({ rootfs, paths }) => {
    const resolved = await resolveContainerPath(rootfs, path, true);
    if (typeof source !== 'string') {
      const st = await lstat(resolved).catch(() => undefined);
      if (!st?.isDirectory()) throw new SkiffError('EINVALID', `destination "${path}" must be a directory when copying from stdin`);
      const owner = archive ? await containerOwner(paths.bundle) : undefined;
      await applyCopy({ dir: resolved, name: '' }, source.tar, { owner, confineTo: rootfs, onWarning: warn, ...so });
      return;
    }
    const { info, abs } = await hostSourceInfo(source);
    const target = await copyTarget(resolved, path, info);
    const owner = archive ? await containerOwner(paths.bundle) : undefined;
    const tar = packForCopy(abs, target.name, { owner, onWarning: warn, ...so });
    await applyCopy(target, tar, { confineTo: rootfs, onWarning: warn, ...so });
  }, { pause: true, ...so });
}

/**
 * Copies `path` of container `nameOrId` to host path `dest` — or, as a `{ tar }`, as a tar stream (carrying the
 * caller's ids) written to that stream. What lands on the host belongs to the caller.
 */
export async function copyOutOfContainer(store: Store, nameOrId: string, path: string, dest: string | { tar: Writable }, o: CopyOptions = {}): Promise<void> {
  const so = { signal: o.signal };
  const warn = o.onWarning ?? (() => {});
  const c = await loadContainer(store.paths.root, nameOrId);
  await withContainerRootfs(store, c.record.id, async ({ rootfs }) => {
    const from = await resolveContainerPath(rootfs, path, false);
    const st = await lstat(from).catch(() => undefined);
    if (!st) throw new SkiffError('ENOTFOUND', `"${path}" could not be found on container ${c.record.name}: no such file or directory`);
    const contents = st.isDirectory() && (isContentsPath(path) || posix.normalize(`/${path}`) === '/');
    const base = posix.basename(posix.normalize(`/${path}`));
    if (typeof dest !== 'string') {
      await pipeline(packForCopy(from, contents ? '' : base, { owner: callerIds(), onWarning: warn, ...so }), dest.tar);
      return;
    }
    const resolved = await realpath(dest).catch(() => resolve(dest));
    const target = await copyTarget(resolved, dest, { isDir: st.isDirectory(), contents, base });
    const tar = packForCopy(from, target.name, { onWarning: warn, ...so });
    // the copy belongs to the caller, with or without --archive (podman's)
    await applyCopy(target, tar, { preserveOwnership: false, onWarning: warn, ...so });
  }, { pause: true, ...so });
}

/** What statInContainer reports (the fields of Docker's X-Docker-Container-Path-Stat). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: permission bits plus 1<<31 for a directory, 1<<27 for a symlink. */
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** Stats `path` in container `nameOrId` (confined to its root filesystem, symlinks not followed); ENOTFOUND when absent. */
export async function statInContainer(store: Store, nameOrId: string, path: string, o: { signal?: AbortSignal } = {}): Promise<ContainerPathStat> {
  const c = await loadContainer(store.paths.root, nameOrId);
  return withContainerRootfs(store, c.record.id, async ({ rootfs }) => {
    const p = await resolveContainerPath(rootfs, path, false);
    const st = await lstat(p).catch(() => undefined);
    if (!st) throw new SkiffError('ENOTFOUND', `"${path}" could not be found on container ${c.record.name}: no such file or directory`);
    const link = st.isSymbolicLink() ? await readlink(p) : '';
    const mode = (st.mode & 0o7777) + (st.isDirectory() ? 2 ** 31 : 0) + (st.isSymbolicLink() ? 2 ** 27 : 0);
    return { name: posix.basename(posix.normalize(`/${path}`)) || '/', size: st.size, mode, mtime: st.mtime.toISOString(), linkTarget: link };
  }, { pause: false, ...o });
}

/** True when tar entry name `name` stays inside the directory it is extracted into (no `..` climbing above it). Pure. */
export function staysInside(name: string): boolean {
  let depth = 0;
  for (const part of name.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return false;
  }
  return true;
}

/**
 * Copies the tar stream `tar` into directory `path` of container `nameOrId` all or nothing as far as names go: the
 * stream is spooled to the store's tmp (at most `limit` bytes, ELIMIT past it) and every entry name and hard-link
 * target is checked first; one that would climb out of `path` (or an absolute name) fails with EUNSAFE before
 * anything is written into the container. Then as copyIntoContainer with `{ tar }`.
 */
export async function copyArchiveIntoContainer(store: Store, nameOrId: string, path: string, tar: Readable, o: CopyOptions & { limit?: number } = {}): Promise<void> {
  const limit = o.limit ?? 4 * 1024 ** 3;
  await loadContainer(store.paths.root, nameOrId);
  await mkdir(store.paths.tmp, { recursive: true, mode: 0o700 });
  const spool = join(store.paths.tmp, `archive-${process.pid}-${randomBytes(8).toString('hex')}.tar`);
  try {
    let n = 0;
    await pipeline(tar, async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        n += chunk.length;
        if (n > limit) throw new SkiffError('ELIMIT', `archive is larger than the ${limit} bytes allowed`);
        yield chunk;
      }
    }, createWriteStream(spool, { mode: 0o600 }), { signal: o.signal });
    for await (const e of readTar(createReadStream(spool), { signal: o.signal })) {
      const h = e.header;
      if (h.name.startsWith('/') || !staysInside(h.name) || (h.type === 'link' && h.linkname !== undefined && (h.linkname.startsWith('/') || !staysInside(h.linkname)))) {
        throw new SkiffError('EUNSAFE', `archive entry ${JSON.stringify(h.name)} would land outside ${path}: nothing was copied`, { hint: 'send an archive whose entry names stay inside the destination directory' });
      }
    }
    await copyIntoContainer(store, nameOrId, path, { tar: createReadStream(spool) }, o);
  } finally {
    await rm(spool, { force: true });
  }
}
