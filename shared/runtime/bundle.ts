import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { SkiffError, type Cancellable } from '../errors.ts';
import { mountOverlay, unmount } from '../layer/overlay-mount.ts';
import { writeFileAtomic } from '../store/atomic.ts';
import { ensurePrivateDir } from './runc.ts';
import type { RuntimeSpec } from './types.ts';
import { validateSpec } from './validate.ts';

/** The parts of a bundle directory. */
export interface Bundle {
  dir: string;
  rootfs: string;
  upper: string;
  work: string;
  config: string;
  /** the state file recording the mount (read by teardownBundle after a crash) */
  state: string;
}

/** The paths of the bundle at `dir` (pure). */
export function bundlePaths(dir: string): Bundle {
  const d = resolve(dir);
  return { dir: d, rootfs: join(d, 'rootfs'), upper: join(d, 'upper'), work: join(d, 'work'), config: join(d, 'config.json'), state: join(d, 'mount.json') };
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** True when `path` is a mount point in this mount namespace (from /proc/self/mountinfo). */
export async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const p = resolve(path);
  return info.split('\n').some((l) => unescapeMountinfo(l.split(' ')[4] ?? '') === p);
}

/** Every mount point at or under `path` in this mount namespace, deepest first (from /proc/self/mountinfo). */
export async function mountsUnder(path: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const p = resolve(path);
  const out = info.split('\n').map((l) => unescapeMountinfo(l.split(' ')[4] ?? '')).filter((m) => m !== '' && (m === p || m.startsWith(`${p}/`)));
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/**
 * Makes a bundle at `dir` (0700, RU-16): the rootfs is an overlay of `lowers` (bottom→top, e.g. from
 * ensureUnpacked) with a per-bundle upper and work dir, so nothing is copied. The mount is recorded in the
 * state file BEFORE mounting, so a process killed at any point leaves a bundle teardownBundle can clean.
 * EEXIST when the bundle exists already.
 */
export async function createBundle(dir: string, lowers: readonly string[], o: Cancellable = {}): Promise<Bundle> {
  const b = bundlePaths(dir);
  await mkdir(resolve(b.dir, '..'), { recursive: true, mode: 0o700 });
  try {
    await mkdir(b.dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new SkiffError('EEXIST', `bundle ${b.dir} exists already`);
    throw e;
  }
  await ensurePrivateDir(b.dir);
  for (const d of [b.rootfs, b.upper, b.work]) await mkdir(d, { mode: 0o700 });
  await writeFileAtomic(b.state, JSON.stringify({ rootfs: b.rootfs, mounted: true }), 0o600);
  try {
    await mountOverlay({ lowers, upper: b.upper, work: b.work, target: b.rootfs, signal: o.signal });
  } catch (e) {
    await teardownBundle(b.dir).catch(() => {});
    throw e;
  }
  return b;
}

/** Validates `spec` (RU-15) and writes it as the bundle's config.json, atomically, mode 0600. */
export async function writeBundleConfig(b: Bundle, spec: RuntimeSpec): Promise<void> {
  validateSpec(spec);
  await writeFileAtomic(b.config, `${JSON.stringify(spec, null, 2)}\n`, 0o600);
}

/**
 * Unmounts the bundle's rootfs (recorded in its state file; lazily when busy) and removes the bundle.
 * Idempotent: a missing bundle, a never-mounted or already-unmounted rootfs are fine. Run it after the
 * container is deleted from runc.
 */
export async function teardownBundle(dir: string, o: Cancellable = {}): Promise<void> {
  const b = bundlePaths(dir);
  const recorded = await readFile(b.state, 'utf8').then(() => true, () => false);
  if (recorded || (await isMountPoint(b.rootfs))) {
    while (await isMountPoint(b.rootfs)) {
      try {
        await unmount(b.rootfs, o);
      } catch {
        await unmount(b.rootfs, { lazy: true, ...o });
      }
    }
  }
  if (await isMountPoint(b.rootfs)) throw new SkiffError('EIO', `cannot unmount ${b.rootfs}`);
  await rm(b.dir, { recursive: true, force: true });
}
