import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import { packTree } from '../../shared/layer/tar-write.ts';
import type { Store } from '../../shared/store/store.ts';
import { withContainerRootfs } from '../containers/rootfs-access.ts';
import { loadContainer } from '../containers/state.ts';

// The export operation (podman's `export`): a container's whole file system as one tar stream.

/** Where exportContainer writes: a file (written to a temp file beside it and renamed) or an open stream. */
export type ExportTarget = { file: string } | { stream: Writable };

/**
 * Writes the tar stream `tar` to `target`: a stream is left open; a file appears complete or not at all (temp file
 * beside it + rename; removed on any error or abort). EIO naming the file when it cannot be created.
 */
export async function writeTarTo(tar: Readable, target: ExportTarget, o: Cancellable = {}): Promise<void> {
  if ('stream' in target) {
    await pipeline(tar, target.stream, { signal: o.signal, end: false });
    return;
  }
  const tmp = join(dirname(target.file), `.${basename(target.file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await pipeline(tar, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }), { signal: o.signal });
    await rename(tmp, target.file);
  } catch (e) {
    tar.destroy();
    await rm(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.syscall === 'open') throw new SkiffError('EIO', `creating file "${target.file}": ${/^\w+: ([^,]*)/.exec(err.message)?.[1] ?? err.message}`, { cause: e });
    throw e;
  }
}

/**
 * Writes the merged root file system of container `nameOrId` as a tar archive (packTree: byte-ordered, owners
 * and modes kept, symlinks archived as links and never followed, sockets skipped) to `target`. The container
 * lock is held throughout; a running container is frozen meanwhile (runc pause, or SIGSTOP rootless) so its
 * processes cannot swap paths under the walk; a stopped container's overlay is mounted only for the export. A file target
 * appears complete or not at all (temp file + rename; removed on any error or abort). ENOTFOUND for an unknown
 * container; EIO naming the file when it cannot be created.
 */
export async function exportContainer(store: Store, nameOrId: string, target: ExportTarget, o: Cancellable & { onWarning?: (m: string) => void } = {}): Promise<void> {
  const c = await loadContainer(store.paths.root, nameOrId);
  await withContainerRootfs(
    store,
    c.record.id,
    async ({ rootfs }) => {
      await writeTarTo(packTree(rootfs, { signal: o.signal, ...(o.onWarning && { onWarning: o.onWarning }) }), target, o);
    },
    // a running container is frozen for the walk: nothing can swap a directory for a symlink under packTree
    { pause: true, signal: o.signal },
  );
}
