import { storageConfRoot } from '../config/storage-conf.ts';
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { SkiffError } from '../errors.ts';
import { join, resolve } from 'node:path';

/**
 * Where a store root keeps its parts. The OCI layout any tool can read is `images/`; the rest is skiff's:
 * unpacked layers (`overlay/`), per-process temp dirs (`tmp/`), leases (`leases/`), lock files (`locks/`),
 * containers (`containers/`), build cache (`cache/`). Every path here is built from the root and fixed names
 * or validated digests only.
 */
export interface StorePaths {
  root: string;
  images: string;
  overlay: string;
  tmp: string;
  leases: string;
  locks: string;
  containers: string;
  cache: string;
}

/** The paths of a store rooted at `root` (made absolute). */
export function storePaths(root: string): StorePaths {
  const r = resolve(root);
  return {
    root: r,
    images: join(r, 'images'),
    overlay: join(r, 'overlay'),
    tmp: join(r, 'tmp'),
    leases: join(r, 'leases'),
    locks: join(r, 'locks'),
    containers: join(r, 'containers'),
    cache: join(r, 'cache'),
  };
}

/**
 * The default store root, as podman picks its storage: `--root` wins, then `SKIFF_ROOT`, then storage.conf's
 * `graphroot` (storageConfRoot: `<graphroot>/skiff`), then
 * `/var/lib/skiff` for root and `$XDG_DATA_HOME/skiff` (default `~/.local/share/skiff`) for other users.
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0, flag?: string): string {
  if (flag) return resolve(flag);
  if (env.SKIFF_ROOT) return resolve(env.SKIFF_ROOT);
  const configured = storageConfRoot(env, uid);
  if (configured !== undefined) return configured;
  if (uid === 0) return '/var/lib/skiff';
  const dataHome = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(env.HOME || homedir(), '.local', 'share');
  return join(dataHome, 'skiff');
}

/**
 * Throws EINVALID when `root` exists and is not a directory (a regular file, a socket…): one clear line instead
 * of an empty listing or a raw EEXIST/ENOTDIR from mkdir. `origin` names where the root came from for the
 * message (`--root`, `SKIFF_ROOT`); a root that does not exist yet passes (it is created on first write).
 */
export function checkStoreRoot(root: string, origin = 'store root'): void {
  let st;
  try {
    st = statSync(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new SkiffError('EINVALID', `${origin} ${root} is not a directory (a parent of it is a file)`, { hint: 'point --root at a directory' });
    throw e;
  }
  if (!st.isDirectory()) throw new SkiffError('EINVALID', `${origin} ${root} is not a directory`, { hint: 'point --root at a directory (it is created when missing)' });
}
