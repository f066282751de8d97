import type { Command } from 'commander';
import { lstat, realpath } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { addRootOption } from '../shared/cli/program.ts';
import { SkiffError } from '../shared/errors.ts';
import { withStore } from './containers/cli-util.ts';
import {
  applyCopy, containerOwner, copyTarget, hostSourceInfo, isContentsPath, packForCopy, resolveContainerPath,
} from './containers/copy.ts';
import { withContainerRootfs } from './containers/rootfs-access.ts';
import { loadContainer } from './containers/state.ts';
import { interruptSignal } from '../shared/cli/interrupt.ts';

/** One side of `cp`: a host path, `-` (a tar stream), or CONTAINER:PATH. */
export interface CopyLocation {
  container?: string;
  path: string;
}

const CTR_RE = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/s;

/** Parses a `cp` argument as podman does: `NAME:PATH` names a container unless the text starts like a path. Pure. */
export function parseCopyLocation(arg: string): CopyLocation {
  if (arg === '-' || arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const m = CTR_RE.exec(arg);
  if (!m) return { path: arg };
  return { container: m[1]!, path: m[2] === '' ? '/' : m[2]! };
}

/**
 * Adds `cp [-a] SRC DST` (podman's): one side is `CONTAINER:PATH`, the other a host path or `-` (a tar
 * stream on stdin/stdout). Works on running containers (frozen with runc pause while the copy runs, RU-08)
 * and on created/stopped ones (their overlay mounted for the copy). Files copied in are owned by the
 * container's user unless `-a` keeps the source's owners.
 */
export function addCpCommand(program: Command): void {
  const cmd = program
    .command('cp')
    .description("copy files/folders between a container and the local filesystem")
    .argument('<src>', '[CONTAINER:]SRC_PATH')
    .argument('<dest>', '[CONTAINER:]DEST_PATH')
    .option('-a, --archive', 'archive mode: keep the owners (uid/gid) of the source instead of the container user');
  addRootOption(cmd).action(async (srcArg: string, dstArg: string, f: { archive?: boolean }) => {
    const src = parseCopyLocation(srcArg);
    const dst = parseCopyLocation(dstArg);
    if (src.container !== undefined && dst.container !== undefined) throw new SkiffError('EINVALID', 'copying from a container to another container is not supported');
    if (src.container === undefined && dst.container === undefined) throw new SkiffError('EINVALID', 'invalid arguments: one of SRC or DEST must be a container path (CONTAINER:PATH)');
    const interrupt = interruptSignal();
    const so = { signal: interrupt.signal };
    const warn = (m: string): void => void process.stderr.write(`WARN: ${m}\n`);
    try {
      await withStore(cmd, async (store) => {
        const c = await loadContainer(store.paths.root, (src.container ?? dst.container)!);
        if (dst.container !== undefined) {
          await withContainerRootfs(store, c.record.id, async ({ rootfs, paths }) => {
            const resolved = await resolveContainerPath(rootfs, dst.path, true);
            if (src.path === '-') {
              const st = await lstat(resolved).catch(() => undefined);
              if (!st?.isDirectory()) throw new SkiffError('EINVALID', `destination "${dst.path}" must be a directory when copying from stdin`);
              await applyCopy({ dir: resolved, name: '' }, process.stdin, { confineTo: rootfs, onWarning: warn, ...so });
              return;
            }
            const { info, abs } = await hostSourceInfo(src.path);
            const target = await copyTarget(resolved, dst.path, info);
            const owner = f.archive ? undefined : await containerOwner(paths.bundle);
            const tar = packForCopy(abs, target.name, { ...(owner && { owner }), onWarning: warn, ...so });
            await applyCopy(target, tar, { confineTo: rootfs, onWarning: warn, ...so });
          }, { pause: true, ...so });
          return;
        }
        await withContainerRootfs(store, c.record.id, async ({ rootfs }) => {
          const from = await resolveContainerPath(rootfs, src.path, false);
          const st = await lstat(from).catch(() => undefined);
          if (!st) throw new SkiffError('ENOTFOUND', `"${src.path}" could not be found on container ${c.record.name}: no such file or directory`);
          const contents = st.isDirectory() && (isContentsPath(src.path) || posix.normalize(`/${src.path}`) === '/');
          const base = posix.basename(posix.normalize(`/${src.path}`));
          if (dst.path === '-') {
            await pipeline(packForCopy(from, contents ? '' : base, { onWarning: warn, ...so }), process.stdout);
            return;
          }
          const resolved = await realpath(dst.path).catch(() => resolve(dst.path));
          const target = await copyTarget(resolved, dst.path, { isDir: st.isDirectory(), contents, base });
          const tar = packForCopy(from, target.name, { onWarning: warn, ...so });
          await applyCopy(target, tar, { preserveOwnership: f.archive === true, onWarning: warn, ...so });
        }, { pause: true, ...so });
      });
    } finally {
      interrupt.dispose();
    }
  });
}
