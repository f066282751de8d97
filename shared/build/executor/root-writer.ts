/**
 * Writing into a container root from the host, confined (BU-15, BU-20): every destination directory is resolved
 * inside the root the way the kernel would inside a chroot (symlinks in the image, absolute or relative, never lead
 * out), files are created with O_EXCL after removing what was there (a planted symlink is replaced, never written
 * through), and symlinks are created as given, never followed.
 */
import { chmodSync, constants, copyFileSync, lchownSync, utimesSync } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { SkiffError } from '../../errors.ts';
import { resolveInRoot } from '../../runtime/in-root.ts';

/** Regular files up to this size are copied with synchronous calls (see RootWriter.file). */
const SYNC_COPY_MAX = 64 << 10;

/** Owner of written entries. */
export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Resolves and writes container paths under one root; caches resolved directories. Writes to distinct paths may run
 * concurrently once their parent directory exists (COPY queues a directory's files after creating it).
 */
export class RootWriter {
  readonly root: string;
  #dirs = new Map<string, string>();

  constructor(root: string) {
    this.root = root;
    this.#dirs.set('/', root);
  }

  /** The host path of container directory `cp`, creating missing components (0755, `owner` or root). */
  async dir(cp: string, owner?: Owner): Promise<string> {
    const c = posix.normalize(`/${cp}`).replace(/\/+$/u, '') || '/';
    const hit = this.#dirs.get(c);
    if (hit !== undefined) return hit;
    const parent = await this.dir(posix.dirname(c), owner);
    let host = join(parent, posix.basename(c));
    let st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink()) {
      host = await resolveInRoot(this.root, relative(this.root, host));
      st = await lstat(host).catch(() => undefined);
      if (st === undefined) {
        await mkdir(host, { recursive: true, mode: 0o755 });
        st = await lstat(host);
      }
    }
    if (st === undefined) {
      await mkdir(host, { mode: 0o755 });
      await chmod(host, 0o755);
      if (owner) await lchown(host, owner.uid, owner.gid);
    } else if (!st.isDirectory()) {
      throw new SkiffError('EINVALID', `cannot copy to ${c}: it exists in the image and is not a directory`);
    }
    this.#dirs.set(c, host);
    return host;
  }

  /** True when container path `cp` is a directory (following symlinks inside the root). */
  async isDir(cp: string): Promise<boolean> {
    const host = await resolveInRoot(this.root, cp);
    return (await lstat(host).catch(() => undefined))?.isDirectory() ?? false;
  }

  async #clear(target: string, keepDir: boolean): Promise<boolean> {
    const st = await lstat(target).catch(() => undefined);
    if (st === undefined) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      await rm(target, { recursive: true, force: true });
      return false;
    }
    await unlink(target);
    return false;
  }

  /**
   * Copies regular file `src` to container path `cp` with `mode` and `owner`; mtime preserved when given.
   * `src` is the source's lstat when the caller has it: a small file is then copied with synchronous calls, and the
   * mode is set only when the copy's own (the source's, which copyFile applies) is not already `mode`.
   */
  async file(cp: string, src: string, mode: number, owner: Owner, mtime?: Date, parentOwner?: Owner, srcStat?: { mode: number | bigint; size: number | bigint }): Promise<void> {
    const target = join(await this.dir(posix.dirname(cp), parentOwner), posix.basename(cp));
    // copyFile gives the copy the source's mode; chown then clears set-id bits, so those are always set again
    const modeSet = srcStat !== undefined && (Number(srcStat.mode) & 0o7777) === mode && (mode & 0o6000) === 0;
    if (srcStat !== undefined && Number(srcStat.size) <= SYNC_COPY_MAX) {
      // a handful of syscalls on a small file take microseconds, far less than as many thread-pool round trips
      try {
        copyFileSync(src, target, constants.COPYFILE_EXCL);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        await this.#clear(target, false);
        copyFileSync(src, target, constants.COPYFILE_EXCL);
      }
      lchownSync(target, owner.uid, owner.gid);
      if (!modeSet) chmodSync(target, mode);
      if (mtime) utimesSync(target, mtime, mtime);
      return;
    }
    // O_EXCL first (the common case: nothing there); whatever exists — a planted symlink too — is removed, then retried
    await copyFile(src, target, constants.COPYFILE_EXCL).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      await this.#clear(target, false);
      await copyFile(src, target, constants.COPYFILE_EXCL);
    });
    await lchown(target, owner.uid, owner.gid);
    if (!modeSet) await chmod(target, mode);
    if (mtime) await utimes(target, mtime, mtime);
  }

  /** Writes `data` as a new regular file at `cp`. */
  async data(cp: string, data: string | Uint8Array, mode: number, owner: Owner, parentOwner?: Owner): Promise<void> {
    const target = join(await this.dir(posix.dirname(cp), parentOwner), posix.basename(cp));
    await this.#clear(target, false);
    await writeFile(target, data, { flag: 'wx', mode });
    await lchown(target, owner.uid, owner.gid);
    await chmod(target, mode);
  }

  /** Makes (or keeps) a directory at `cp`; sets mode and owner when `apply`. Returns its host path. */
  async mkdir(cp: string, mode: number, owner: Owner, apply = true, parentOwner?: Owner): Promise<string> {
    const c = posix.normalize(`/${cp}`);
    if (c === '/') return this.root;
    const parent = await this.dir(posix.dirname(c), parentOwner);
    const target = join(parent, posix.basename(c));
    const st = await lstat(target).catch(() => undefined);
    if (st?.isSymbolicLink() || st?.isDirectory()) {
      const host = await this.dir(c); // resolves an existing symlink to a directory inside the root
      if (apply && st.isDirectory()) {
        await lchown(host, owner.uid, owner.gid);
        await chmod(host, mode);
      }
      return host;
    }
    if (st !== undefined) await unlink(target);
    await mkdir(target, { mode });
    await lchown(target, owner.uid, owner.gid);
    await chmod(target, mode);
    this.#dirs.set(c, target);
    return target;
  }

  /** Creates a symlink at `cp` pointing at `link` (never followed). */
  async symlink(cp: string, link: string, owner: Owner, mtime?: Date, parentOwner?: Owner): Promise<void> {
    const target = join(await this.dir(posix.dirname(cp), parentOwner), posix.basename(cp));
    await this.#clear(target, false);
    await symlink(link, target);
    await lchown(target, owner.uid, owner.gid);
    if (mtime) await lutimes(target, mtime, mtime).catch(() => {});
    this.#dirs.delete(posix.normalize(`/${cp}`));
  }
}
