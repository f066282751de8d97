import { constants as C, closeSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, realpathSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SkiffError } from '../errors.ts';

/*
 * Resolution inside a root directory R that a concurrent writer cannot redirect.
 *
 * Node has no openat(2), so directories are held open and their children are named through the open
 * descriptor: `/proc/self/fd/<dirfd>/<name>`. The kernel resolves `/proc/self/fd/<dirfd>` to the directory the
 * descriptor pins (not to a path it re-walks), so renaming a component of R or swapping it for a symlink after
 * it was opened cannot move later operations anywhere else; every directory is opened O_NOFOLLOW from its
 * parent's descriptor, so a symlink put in its place is seen as a symlink (and then followed inside R only, by
 * the caller's policy), never silently traversed. Descriptors are O_PATH (search permission is enough, as for
 * a path walk); operations that need an open file (chmod, utimes of a directory) go through
 * `/proc/self/fd/<fd>` itself, which reaches the pinned inode. A spawned program gets the descriptor as its
 * fd 3 and names `/proc/self/fd/3/<name>` (see programPath).
 *
 * The memo: every directory of R verified to be a real directory reached through real directories is a
 * DirNode, remembered until the apply removes a directory (then the whole memo is dropped: on a case-folding
 * file system `FOO` and `foo` are one directory, so a per-name invalidation could keep trusting a name that
 * now is something else). At most FD_CAP descriptors stay open: the least recently used are closed between
 * operations (trim) and reopened from their parent's descriptor, O_NOFOLLOW, when needed again; a node whose
 * name no longer opens as a directory then means R was changed under the apply, which fails with EUNSAFE.
 * Descriptors are never closed in the middle of an operation (a number in a path must stay the directory it
 * named), only by trim and close.
 */

/** O_PATH (Linux): a descriptor that pins a path without opening the file for I/O. Not in fs.constants. */
export const O_PATH = 0o10000000;
const OPEN_DIR = O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW;
/** Open descriptors kept between operations (besides R's). */
export const FD_CAP = 256;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** `/proc/self/fd/<fd>`: the inode the descriptor pins (chmod, utimes and readdir through it reach that inode). */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * A directory of R verified (opened O_NOFOLLOW from a verified parent, or created by this apply) to be a real
 * directory. `fd` pins it while open (-1 when closed: it is reopened from its parent by name).
 */
export interface DirNode {
  readonly parent: DirNode | undefined;
  readonly name: string;
  kids: Map<string, DirNode> | undefined;
  /** the directory has the setgid bit: new entries in it take its group, not ours */
  sgid: boolean;
  /** its group, -1 when not known (used only to skip needless chowns) */
  gid: number;
  fd: number;
  /** dropped from the memo by forgetAll: never reopened by name */
  retired: boolean;
}

/** Resolution limits: symlink hops and depth. */
export interface ResolveLimits {
  maxDepth: number;
}

const MAX_HOPS = 40;

/**
 * R held open, with the memo of verified directories. Invariant: every path this object hands out names an
 * entry of a directory it pinned by descriptor; no method follows a symlink out of R. Not thread-safe; one
 * operation at a time.
 */
export class ConfinedRoot {
  /** R's real path (for messages and for what only the root itself needs) */
  readonly path: string;
  readonly root: DirNode;
  readonly #limits: ResolveLimits;
  readonly #egid: number;
  /** open descriptors other than R's, least recently used first */
  readonly #lru = new Map<DirNode, true>();
  /** nodes dropped from the memo whose descriptor closes at the next trim */
  #retired: DirNode[] = [];

  private constructor(path: string, fd: number, st: Stats, limits: ResolveLimits) {
    this.path = path;
    this.root = { parent: undefined, name: '', kids: undefined, sgid: (st.mode & 0o2000) !== 0, gid: st.gid, fd, retired: false };
    this.#limits = limits;
    this.#egid = process.getegid?.() ?? 0;
  }

  /** Opens R (its real path; R itself is trusted as named by the caller). Fails with EINVALID when not a directory. */
  static open(root: string, limits: ResolveLimits): ConfinedRoot {
    const real = realpathSync(root);
    let fd: number;
    try {
      fd = openSync(real, OPEN_DIR);
    } catch (e) {
      if (errno(e) === 'ENOTDIR' || errno(e) === 'ELOOP') throw new SkiffError('EINVALID', `${root} is not a directory`);
      throw e;
    }
    const st = fstatSync(fd);
    if (lstatSync(fdPath(fd), { throwIfNoEntry: false }) === undefined) {
      closeSync(fd);
      throw new SkiffError('ENODEP', `cannot apply a layer in ${real}: /proc is not mounted (descriptor paths /proc/self/fd/N are needed)`, {
        hint: 'mount proc at /proc (mount -t proc proc /proc)',
      });
    }
    return new ConfinedRoot(real, fd, st, limits);
  }

  /** The descriptor pinning `node`, reopened from its parent (O_NOFOLLOW) when it was closed. */
  fdOf(node: DirNode): number {
    if (node.fd >= 0) {
      if (node.parent !== undefined && !node.retired) {
        this.#lru.delete(node);
        this.#lru.set(node, true);
      }
      return node.fd;
    }
    const parent = node.parent!;
    if (node.retired) throw new SkiffError('EUNSAFE', `internal: directory ${this.describe(node)} was dropped from the memo`);
    const p = `${fdPath(this.fdOf(parent))}/${node.name}`;
    try {
      node.fd = openSync(p, OPEN_DIR);
    } catch (e) {
      const c = errno(e);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') {
        throw new SkiffError('EUNSAFE', `${this.describe(node)} in ${this.path} is no longer a directory: something else changed the tree while the layer was applied`);
      }
      throw e;
    }
    this.#lru.set(node, true);
    return node.fd;
  }

  /** The path naming entry `name` of `dir` through its descriptor (valid until the next trim). */
  at(dir: DirNode, name: string): string {
    return `${fdPath(this.fdOf(dir))}/${name}`;
  }

  /**
   * For a spawned program, which has its own /proc/self: the descriptor to pass as its fd 3 and the path it
   * names `name` of `dir` by (`.` for the directory itself).
   */
  programPath(dir: DirNode, name: string): { fd: number; path: string } {
    return { fd: this.fdOf(dir), path: `/proc/self/fd/3/${name}` };
  }

  /** R-relative name of a node, for messages. */
  describe(node: DirNode): string {
    const parts: string[] = [];
    for (let n: DirNode | undefined = node; n?.parent !== undefined; n = n.parent) parts.push(n.name);
    return parts.length ? parts.reverse().join('/') : '.';
  }

  /** Remembers a verified (or just created) directory `name` of `parent`; `fd` when already open. */
  addDir(parent: DirNode, name: string, sgid: boolean, gid: number, fd = -1): DirNode {
    const n: DirNode = { parent, name, kids: undefined, sgid, gid, fd, retired: false };
    (parent.kids ??= new Map()).set(name, n);
    if (fd >= 0) this.#lru.set(n, true);
    return n;
  }

  /**
   * The group a new entry of `parent` gets, -1 when unsure: the parent's group when it is setgid (or when the
   * file system is mounted `grpid`), ours otherwise; both agree when the parent's group is ours.
   */
  childGid(parent: DirNode): number {
    return parent.sgid ? parent.gid : parent.gid === this.#egid ? this.#egid : -1;
  }

  /** Drops every remembered directory (one was removed: see the memo above). R itself stays verified. */
  forgetAll(): void {
    this.root.kids = undefined;
    for (const n of this.#lru.keys()) {
      n.retired = true;
      this.#retired.push(n);
    }
    this.#lru.clear();
  }

  /** Closes retired descriptors and the least recently used beyond FD_CAP. Only between operations. */
  trim(): void {
    for (const n of this.#retired) this.#closeNode(n);
    this.#retired = [];
    if (this.#lru.size <= FD_CAP) return;
    for (const n of this.#lru.keys()) {
      if (this.#lru.size <= FD_CAP) break;
      this.#lru.delete(n);
      this.#closeNode(n);
    }
  }

  /** Closes every descriptor, R's included. The object is unusable afterwards. */
  close(): void {
    this.forgetAll();
    this.trim();
    this.#closeNode(this.root);
  }

  #closeNode(n: DirNode): void {
    if (n.fd < 0) return;
    try {
      closeSync(n.fd);
    } catch {
      // already closed
    }
    n.fd = -1;
  }

  /**
   * Opens existing directory `name` of `parent` (O_NOFOLLOW) and remembers it; undefined when it is missing
   * or not a directory (a symlink included).
   */
  openKid(parent: DirNode, name: string): DirNode | undefined {
    const k = parent.kids?.get(name);
    if (k !== undefined) return k;
    let fd: number;
    try {
      fd = openSync(this.at(parent, name), OPEN_DIR);
    } catch (e) {
      const c = errno(e);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') return undefined;
      throw e;
    }
    const st = fstatSync(fd);
    return this.addDir(parent, name, (st.mode & 0o2000) !== 0, st.gid, fd);
  }

  /** The node of `comps` when every component is a real directory (no symlink followed); undefined otherwise. */
  realDir(comps: readonly string[]): DirNode | undefined {
    let n: DirNode | undefined = this.root;
    for (let i = 0; i < comps.length && n; i++) n = this.openKid(n, comps[i]!);
    return n;
  }

  /**
   * Resolves directory `comps` inside R, following symlinks met on the way inside R only (a relative target
   * from its directory with `..` clamped at R, an absolute one re-rooted at R); missing directories are
   * created 0755 when `create`, else the result is undefined. Returns the real components (`comps` itself
   * when no symlink was met) and the node. A component that exists and is not a directory is EINVALID; more
   * than 40 symlinks is EUNSAFE.
   */
  resolveDir(comps: string[], create: boolean): { real: string[]; node: DirNode } | undefined {
    // fast path: every component is a remembered directory
    let node = this.root;
    let i = 0;
    for (; i < comps.length; i++) {
      const k = node.kids?.get(comps[i]!);
      if (k === undefined) break;
      node = k;
    }
    if (i === comps.length) return { real: comps, node };
    let real = comps.slice(0, i);
    const pending = comps.slice(i).reverse(); // a stack: next component last
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (real.length > 0) {
          real.pop();
          node = node.parent!;
        }
        continue;
      }
      const kid = this.openKid(node, c);
      if (kid !== undefined) {
        real.push(c);
        node = kid;
        continue;
      }
      const p = this.at(node, c);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st === undefined) {
        if (!create) return undefined;
        try {
          mkdirSync(p, { mode: 0o755 });
        } catch (e) {
          if (errno(e) !== 'EEXIST' || ++hops > MAX_HOPS) throw e;
          pending.push(c); // appeared meanwhile: look again
          continue;
        }
        node = this.addDir(node, c, node.sgid, this.childGid(node)); // mkdir inherits the setgid bit
        real.push(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_HOPS) throw new SkiffError('EUNSAFE', `too many levels of symbolic links resolving ${comps.join('/')}`);
        const target = readlinkSync(p);
        if (target.startsWith('/')) {
          real = [];
          node = this.root;
        }
        const parts = target.split('/');
        for (let j = parts.length - 1; j >= 0; j--) pending.push(parts[j]!);
        if (real.length + pending.length > this.#limits.maxDepth * 4) throw new SkiffError('ELIMIT', `symlink resolution of ${comps.join('/')} is too deep`);
        continue;
      }
      if (st.isDirectory()) {
        // became a directory between the open and the lstat: look again
        if (++hops > MAX_HOPS) throw new SkiffError('EUNSAFE', `${[...real, c].join('/')} keeps changing while the layer is applied`);
        pending.push(c);
        continue;
      }
      throw new SkiffError('EINVALID', `cannot create ${comps.join('/')}: ${[...real, c].join('/')} is not a directory`);
    }
    return { real, node };
  }

  /** lstat of entry `name` of `dir`; undefined when missing. */
  lstat(dir: DirNode, name: string): Stats | undefined {
    return lstatSync(this.at(dir, name), { throwIfNoEntry: false });
  }

  /**
   * Removes entry `name` of the directory pinned by `dirFd`, described by `st` (its lstat), never following a
   * symlink: a directory's contents are removed through descriptors (a subdirectory swapped for a symlink
   * meanwhile is unlinked, not entered). Removing a directory drops the memo.
   */
  removeIn(dirFd: number, name: string, st: Stats): void {
    if (!st.isDirectory()) {
      unlinkSync(`${fdPath(dirFd)}/${name}`); // a symlink itself, never its target
      return;
    }
    this.forgetAll();
    removeTree(dirFd, name);
  }
}

/**
 * Removes `path` and everything below it through descriptors only: below `path`'s parent no symlink is
 * followed, even one swapped in for a directory while the removal runs (a path-based recursive rm could be
 * led into the symlink's target between its lstat and its readdir). A missing `path` is not an error.
 */
export function removePath(path: string): void {
  const p = resolve(path);
  let fd: number;
  try {
    fd = openSync(dirname(p), OPEN_DIR & ~C.O_NOFOLLOW);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  try {
    removeTree(fd, basename(p));
  } finally {
    closeSync(fd);
  }
}

/** Removes `name` in the directory pinned by `parentFd` and everything below it, through descriptors only. */
function removeTree(parentFd: number, name: string): void {
  const p = `${fdPath(parentFd)}/${name}`;
  let fd: number;
  try {
    fd = openSync(p, OPEN_DIR);
  } catch (e) {
    const c = errno(e);
    if (c === 'ENOENT') return;
    if (c === 'ENOTDIR' || c === 'ELOOP') return unlinkSync(p); // not a directory (any more): the entry itself
    throw e;
  }
  try {
    for (const n of readdirSync(fdPath(fd))) {
      const st = lstatSync(`${fdPath(fd)}/${n}`, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) removeTree(fd, n);
      else {
        try {
          unlinkSync(`${fdPath(fd)}/${n}`);
        } catch (e) {
          if (errno(e) === 'EISDIR' || errno(e) === 'EPERM') removeTree(fd, n);
          else if (errno(e) !== 'ENOENT') throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  try {
    rmdirSync(p);
  } catch (e) {
    if (errno(e) === 'ENOTDIR') unlinkSync(p);
    else if (errno(e) !== 'ENOENT') throw e;
  }
}
