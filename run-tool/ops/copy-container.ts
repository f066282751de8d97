import { lstat, realpath } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError } from '../../shared/errors.ts';
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
