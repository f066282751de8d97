import { lstat, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SkiffError } from '../errors.ts';
import { runProgram } from '../process/run.ts';
import { runningInUserNamespace } from '../process/proc.ts';

/*
 * Overlay mounts through the system mount/umount programs: the options for a stack of lower dirs (short cache
 * links where they fit), mount, unmount. Kept apart from the unpack cache so that unmounting loads nothing else.
 */

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(() => true, () => false);
}

/** The kernel's limit on the mount data page. */
export const MOUNT_DATA_MAX = 4095;

/**
 * The overlay mount options for `lowers` (bottom→top, as ensureUnpacked returns them; overlayfs wants the
 * top first, this reverses). A lower that is a cache diff dir with a `link` file is named by its short
 * `l/<id>` link relative to the cache dir, and `cwd` says where mount must run for those to resolve. Fails
 * with ELIMIT when the options still exceed one page.
 */
export async function overlayMountOptions(lowers: readonly string[], upper?: string, work?: string): Promise<{ options: string; cwd?: string }> {
  let cwd: string | undefined;
  const names: string[] = [];
  for (const lower of [...lowers].reverse()) {
    const d = resolve(lower);
    let short: string | undefined;
    if (d.endsWith('/diff')) {
      const entry = d.slice(0, -'/diff'.length);
      const cache = entry.slice(0, entry.lastIndexOf('/'));
      try {
        const s = (await readFile(join(entry, 'link'), 'utf8')).trim();
        if (/^[A-Z0-9]{26}$/.test(s) && (cwd === undefined || cwd === cache) && (await exists(join(cache, 'l', s)))) {
          short = `l/${s}`;
          cwd = cache;
        }
      } catch {
        /* not a cache entry: use the full path */
      }
    }
    if (/[,:\\]/.test(short ?? d)) throw new SkiffError('EINVALID', `overlay layer path ${d} contains a character overlayfs options cannot carry (, : or \\)`);
    names.push(short ?? d);
  }
  let options = `lowerdir=${names.join(':')}`;
  if (upper !== undefined) {
    if (work === undefined) throw new SkiffError('EINVALID', 'an overlay upper dir needs a work dir');
    options += `,upperdir=${resolve(upper)},workdir=${resolve(work)}`;
  }
  if (Buffer.byteLength(options) > MOUNT_DATA_MAX) {
    throw new SkiffError('ELIMIT', `overlay mount options are ${Buffer.byteLength(options)} bytes, more than one page (${MOUNT_DATA_MAX})`, {
      hint: 'the image has too many layers for one overlay mount; squash some layers',
    });
  }
  return cwd === undefined ? { options } : { options, cwd };
}

/**
 * Mounts an overlay at `target` with the system `mount` program (run in the cache dir so short lower names
 * resolve). Needs root (or a user namespace with its own mount namespace: there `userxattr` is added by default,
 * so overlayfs uses `user.overlay.*` xattrs, as unprivileged overlay mounts require). Not idempotent: mounting twice
 * stacks two mounts.
 */
export async function mountOverlay(o: { lowers: readonly string[]; upper?: string; work?: string; target: string; userxattr?: boolean; signal?: AbortSignal }): Promise<void> {
  const { options, cwd } = await overlayMountOptions(o.lowers, o.upper, o.work);
  const userxattr = o.userxattr ?? runningInUserNamespace();
  const r = await runProgram('mount', ['-t', 'overlay', 'overlay', '-o', userxattr ? `${options},userxattr` : options, resolve(o.target)], { signal: o.signal, cwd });
  if (r.code !== 0) throw new SkiffError('EIO', `mounting overlay at ${o.target} failed: ${r.stderr.trim()}`, { hint: 'overlay mounts need root or a user namespace' });
}

/** Unmounts `target` with the system `umount` program (lazy with `lazy: true`). */
export async function unmount(target: string, opts: { lazy?: boolean; signal?: AbortSignal } = {}): Promise<void> {
  const r = await runProgram('umount', [...(opts.lazy ? ['-l'] : []), resolve(target)], { signal: opts.signal });
  if (r.code !== 0) throw new SkiffError('EIO', `unmounting ${target} failed: ${r.stderr.trim()}`);
}
