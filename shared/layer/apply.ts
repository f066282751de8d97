import {
  constants as C,
  chmodSync,
  closeSync,
  fstatSync,
  copyFileSync,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, isSkiffError, throwIfAborted } from '../errors.ts';
import { runProgram } from './exec.ts';
import { forEachTarEntry, type TarBody, type TarHeader } from './tar-read.ts';
import { isPrivateXattr } from './tar-write.ts';
import { setXattr } from './xattr.ts';

/*
 * Confinement policy (the contract every caller relies on; tests LA-01 … LA-20 check it):
 *
 * - Names are cleaned lexically like a chroot would: empty and `.` components dropped, `..` pops one
 *   component and is clamped at the root (`../victim/x` and `/../victim/x` land at `R/victim/x`, `/abs/f`
 *   at `R/abs/f`). Nothing is rejected for having `..`; nothing can name a path above R.
 * - Parent directories are resolved component by component with lstat (a verified directory is
 *   remembered until the apply removes a directory, see applyLayer). A symlink met in a parent is
 *   followed INSIDE R only: a relative target is resolved from its directory with `..` clamped at R, an
 *   absolute target is re-rooted at R (`var/run -> /run` then `var/run/x` lands at `R/run/x`, LA-14). So a
 *   symlink can never carry a write, link, whiteout or metadata operation out of R (LA-02, LA-06, LA-12).
 *   Missing parents are created (0755). A parent that exists and is not a directory is an error.
 *   More than 40 symlinks in one resolution is an error (a loop).
 * - The last component is never followed: it is what the entry creates or replaces.
 * - Metadata never follows a symlink: files get fchown/fchmod/futimes on the O_EXCL|O_NOFOLLOW fd that
 *   created them; symlinks get lchown/lutimes and no chmod; directories get theirs at the end through an
 *   O_DIRECTORY|O_NOFOLLOW fd after re-checking (memo, else lstat) that no component of the path became a
 *   symlink; xattrs use
 *   `setfattr -h`. overlayfs-private xattrs (`trusted.overlay.*`) in a layer are dropped.
 * - The root: a directory entry for `.`/`/` is accepted and its metadata ignored (R keeps the mode its owner
 *   gave it); any other type is refused ("refusing to change type of root directory", LA-05).
 * - Type replacement: an entry replaces what is at its path unless both are directories (then metadata
 *   merges); a replaced directory is removed recursively without following symlinks (LA-12).
 *   Duplicates: the last entry for a path wins.
 * - Hardlinks: the target name is cleaned and resolved the same way (inside R), must exist and must not be
 *   a directory; a symlink target is linked as the symlink itself (link(2) does not follow). In overlay mode
 *   a target missing from this layer is looked up in `lowerDirs` and copied (layers are immutable).
 * - Whiteouts (`.wh.name`, `.wh..wh..opq`) act on the parent resolved as above. They affect lower layers
 *   only: a path this layer writes survives its whiteout in any order (LA-10), and an opaque marker removes
 *   exactly the children this layer did not write, so its position among the entries does not matter (LA-09).
 *   A whiteout for a directory this layer wrote acts as an opaque marker on it. `.wh.` (empty), `.wh..` and
 *   `.wh...` (naming `.`/`..`, including `etc/.wh..`) are rejected (LA-07); a `.wh.*` entry is a whiteout by
 *   name whatever its type.
 * - Special files: devices are created with mknod(1) only as root, only when R is private (R or an ancestor
 *   is 0700-ish: no group/other access) and only when the policy allows; otherwise skipped with a warning.
 *   setuid/setgid bits are kept only when R is private; otherwise stripped with a warning (LA-18).
 * - Limits (LA-15): entries, depth, name length and path length; exceeding one is ELIMIT. applyLayer never
 *   removes R itself: the caller (the unpack cache) removes its partial rootfs.
 */

/** Limits on one layer's entries (LA-15). */
export interface ApplyLimits {
  /** max tar entries; default 1,000,000 */
  maxEntries?: number;
  /** max path components; default 256 */
  maxDepth?: number;
  /** max bytes of one path component; default 255 */
  maxNameLength?: number;
  /** max bytes of an entry or link name; default 4096 */
  maxPathLength?: number;
}

/** Defaults of ApplyLimits. */
export const DEFAULT_APPLY_LIMITS: Required<ApplyLimits> = { maxEntries: 1_000_000, maxDepth: 256, maxNameLength: 255, maxPathLength: 4096 };

/** Options of applyLayer. */
export interface ApplyOptions {
  /**
   * `merged` (default): R is a full rootfs; OCI whiteouts delete from it.
   * `overlay`: R is one overlayfs layer dir; `.wh.x` becomes a char 0/0 device and `.wh..wh..opq` the xattr
   * `trusted.overlay.opaque=y` on the directory.
   */
  mode?: 'merged' | 'overlay';
  /**
   * overlay mode: the xattr that marks an opaque directory — `trusted.overlay.opaque` (default) or, inside a
   * user namespace where trusted.* cannot be set, `user.overlay.opaque` (mounted with `userxattr`).
   */
  opaqueXattr?: 'trusted.overlay.opaque' | 'user.overlay.opaque';
  /** `create` (default when root) or `skip` devices (always skipped when not root) */
  devices?: 'create' | 'skip';
  /** chown to the archive's uid/gid; default: when running as root */
  preserveOwnership?: boolean;
  /**
   * translate every entry's uid/gid before it is used (e.g. keep-id's shift into the outer namespace): what is
   * chowned and compared is `mapIds.uid(h.uid)`:`mapIds.gid(h.gid)`. Identity when absent.
   */
  mapIds?: { uid: (id: number) => number; gid: (id: number) => number };
  /** overlay mode: lower layer dirs, top first, searched for hardlink targets this layer lacks */
  lowerDirs?: string[];
  limits?: ApplyLimits;
  onWarning?: (msg: string) => void;
  signal?: AbortSignal;
}

/** What one apply did. */
export interface ApplyResult {
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  whiteouts: number;
  /** bytes of regular-file content written */
  bytes: number;
  /** entries skipped (devices not allowed, …) */
  skipped: number;
  warnings: string[];
}

interface DirMeta {
  comps: string[];
  mode: number;
  mtime: Date;
}

/**
 * A directory of R verified (by lstat, or because this apply created it) to be a real directory reached
 * through real directories only. Children are the verified subdirectories. Removing a directory drops the
 * whole memo, not just that path: on a case-folding file system (ext4 `+F`, tmpfs `casefold`) `FOO` and
 * `foo` are one directory, so a per-name invalidation could keep trusting a name that now is a symlink.
 */
interface DirNode {
  kids: Map<string, DirNode> | undefined;
  /** the directory has the setgid bit: new entries in it take its group, not ours */
  sgid: boolean;
  /** its group, -1 when not known (used only to skip needless chowns) */
  gid: number;
}

const isRootUser = process.getuid?.() === 0;
const S_ISGID = 0o2000;
const CREATE_FILE = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const OPEN_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function lstatOrUndef(p: string): Stats | undefined {
  return lstatSync(p, { throwIfNoEntry: false });
}

/** True when R or one of its ancestors denies group and other access (so nothing under R is reachable by other users). */
async function isPrivateRoot(root: string): Promise<boolean> {
  let p = root;
  for (;;) {
    const st = await lstat(p);
    if ((st.mode & 0o077) === 0 && st.uid === (process.getuid?.() ?? 0)) return true;
    const up = dirname(p);
    if (up === p) return false;
    p = up;
  }
}

/** Cleans an archive name to in-root components (chroot semantics: `..` clamped at the root). */
export function cleanPath(name: string, limits: Required<ApplyLimits> = DEFAULT_APPLY_LIMITS): string[] {
  if (Buffer.byteLength(name) > limits.maxPathLength) {
    throw new SkiffError('ELIMIT', `entry name longer than ${limits.maxPathLength} bytes (${name.slice(0, 60)}…)`);
  }
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      out.pop();
      continue;
    }
    if (Buffer.byteLength(c) > limits.maxNameLength) {
      throw new SkiffError('ELIMIT', `path component longer than ${limits.maxNameLength} bytes in ${JSON.stringify(name.slice(0, 80))}`);
    }
    if (c.includes('\0')) throw new SkiffError('EINVALID', `NUL byte in entry name ${JSON.stringify(name)}`);
    out.push(c);
    if (out.length > limits.maxDepth) throw new SkiffError('ELIMIT', `path deeper than ${limits.maxDepth} components: ${JSON.stringify(name.slice(0, 80))}…`);
  }
  return out;
}

/** applyLayer's `mapIds` giving every entry one owner (ADD --chown of an archive, `cp` of a tar into a container). */
export function ownedBy(owner: { uid: number; gid: number }): NonNullable<ApplyOptions['mapIds']> {
  return { uid: () => owner.uid, gid: () => owner.gid };
}

/** The permission bits a new file created with mode 0777 in `dir` gets (umask and default ACL applied). */
function probeCreateMask(dir: string): number {
  const probe = join(dir, `.skiff-mode-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(probe, CREATE_FILE, 0o777);
  try {
    return fstatSync(fd).mode & 0o777;
  } finally {
    closeSync(fd);
    unlinkSync(probe);
  }
}

/**
 * Applies one layer tar stream onto the directory `root` under the confinement policy above. Not atomic:
 * on error R holds a partial result and the caller must discard it. Bodies stream straight to disk.
 *
 * Speed: file system calls are synchronous (the apply is the only work of its process while it runs; the
 * tar stream is still read asynchronously), and directories verified once are remembered for the rest of
 * the apply (see DirNode) instead of being lstat'ed again for every entry. That memo relies on what the
 * policy already assumes: nothing but this apply writes R while it runs. Every directory the apply removes
 * or replaces drops the whole memo. Files are still created with O_EXCL|O_NOFOLLOW and get their owner,
 * mode and times through that fd (the mode at creation already when the umask and default ACL leave it intact); a chown is skipped only when the new entry already has the header's
 * owner (our uid, and the group the parent directory gives it).
 */
export async function applyLayer(root: string, tarStream: Readable, opts: ApplyOptions = {}): Promise<ApplyResult> {
  // errors before forEachTarEntry attaches its handler are kept in tarStream.errored and rethrown there
  tarStream.on('error', () => {});
  const R = await realpath(root);
  const rootSt = await lstat(R);
  if (!rootSt.isDirectory()) throw new SkiffError('EINVALID', `${root} is not a directory`);
  const limits = { ...DEFAULT_APPLY_LIMITS, ...opts.limits };
  const overlay = opts.mode === 'overlay';
  const preserveOwner = opts.preserveOwnership ?? isRootUser;
  const mapIds = opts.mapIds;
  const privateRoot = await isPrivateRoot(R);
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  const result: ApplyResult = { entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, whiteouts: 0, bytes: 0, skipped: 0, warnings: [] };
  const warn = (m: string): void => {
    result.warnings.push(m);
    opts.onWarning?.(m);
  };
  let warnedSetuid = false;
  const written = new Set<string>(); // paths this layer created (keys: real components joined by '/')
  const touched = new Set<string>(); // ancestors of written paths
  const dirMeta = new Map<string, DirMeta>();
  const rootNode: DirNode = { kids: undefined, sgid: (rootSt.mode & S_ISGID) !== 0, gid: rootSt.gid };
  // The permission bits a file created with mode 0777 really gets here (umask, a default ACL on the root): a file
  // whose mode survives that mask is created with its mode and needs no fchmod. 0 (always fchmod) once the layer
  // sets a default ACL of its own.
  let createMask = probeCreateMask(R);
  const prefix = R === '/' ? '' : R;
  const abs = (comps: string[]): string => (comps.length ? `${prefix}/${comps.join('/')}` : R);
  const markWritten = (comps: string[]): void => {
    const key = comps.join('/');
    written.add(key);
    for (let i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) {
      const anc = key.slice(0, i);
      if (touched.has(anc)) break; // its ancestors are in already
      touched.add(anc);
    }
  };

  const addDir = (parent: DirNode, name: string, sgid: boolean, gid: number): DirNode => {
    const n: DirNode = { kids: undefined, sgid, gid };
    (parent.kids ??= new Map()).set(name, n);
    return n;
  };
  /** The memo node of real components `comps`, if verified. */
  const knownDir = (comps: string[]): DirNode | undefined => {
    let n: DirNode | undefined = rootNode;
    for (let i = 0; i < comps.length && n; i++) n = n.kids?.get(comps[i]!);
    return n;
  };
  /** Drops every remembered directory (one was removed: see DirNode). R itself stays verified. */
  const forgetAll = (): void => {
    rootNode.kids = undefined;
  };

  /**
   * Resolves a directory inside R following in-root symlinks; undefined when missing and !create. Returns
   * the real components (`comps` itself when no symlink was met) and the memo node.
   */
  const resolveDir = (comps: string[], create: boolean): { real: string[]; node: DirNode } | undefined => {
    // fast path: every component is a verified real directory
    let node = rootNode;
    let i = 0;
    for (; i < comps.length; i++) {
      const k = node.kids?.get(comps[i]!);
      if (k === undefined) break;
      node = k;
    }
    if (i === comps.length) return { real: comps, node };
    let real = comps.slice(0, i);
    let nodes: DirNode[] = [rootNode];
    for (let j = 0; j < i; j++) nodes.push(nodes[j]!.kids!.get(comps[j]!)!);
    const pending = comps.slice(i).reverse(); // a stack: next component last
    let hops = 0;
    while (pending.length > 0) {
      const c = pending.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (real.length > 0) {
          real.pop();
          nodes.pop();
        }
        continue;
      }
      const parent = nodes[nodes.length - 1]!;
      const known = parent.kids?.get(c);
      if (known !== undefined) {
        real.push(c);
        nodes.push(known);
        continue;
      }
      const next = [...real, c];
      const p = abs(next);
      const st = lstatOrUndef(p);
      if (st === undefined) {
        if (!create) return undefined;
        mkdirSync(p, { mode: 0o755 });
        nodes.push(addDir(parent, c, parent.sgid, childGid(parent))); // mkdir inherits the setgid bit
        real = next;
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > 40) throw new SkiffError('EUNSAFE', `too many levels of symbolic links resolving ${comps.join('/')}`);
        const target = readlinkSync(p);
        if (target.startsWith('/')) {
          real = [];
          nodes = [rootNode];
        }
        const parts = target.split('/');
        for (let j = parts.length - 1; j >= 0; j--) pending.push(parts[j]!);
        if (real.length + pending.length > limits.maxDepth * 4) throw new SkiffError('ELIMIT', `symlink resolution of ${comps.join('/')} is too deep`);
        continue;
      }
      if (!st.isDirectory()) throw new SkiffError('EINVALID', `cannot create ${comps.join('/')}: ${next.join('/')} is not a directory`);
      nodes.push(addDir(parent, c, (st.mode & S_ISGID) !== 0, st.gid));
      real = next;
    }
    return { real, node: nodes[nodes.length - 1]! };
  };

  /** Removes what `st` (its lstat) describes at `p`; never follows symlinks. */
  const removeAt = (p: string, st: Stats): void => {
    if (!st.isDirectory()) return unlinkSync(p); // a symlink itself, never its target
    // rm never follows symlinks: a directory's contents are removed in place, symlinks in it unlinked
    rmSync(p, { recursive: true, force: true });
    forgetAll();
  };

  /**
   * Clears what sits at `comps` unless it is a dir and we want a dir. Returns the kept directory's stats
   * (undefined when the path is free now).
   */
  const prepare = (p: string, wantDir: boolean): Stats | undefined => {
    const st = lstatOrUndef(p);
    if (st === undefined) return undefined;
    if (wantDir && st.isDirectory()) return st;
    removeAt(p, st);
    return undefined;
  };

  /** Runs `create` (which must fail with EEXIST when the path is taken); on EEXIST clears the path and retries once. */
  const createAt = <T>(p: string, create: () => T): T => {
    try {
      return create();
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    prepare(p, false);
    return create();
  };

  const permBits = (mode: number, what: string): number => {
    if (mode & 0o6000 && !privateRoot) {
      if (!warnedSetuid) warn(`stripping setuid/setgid bits (first: ${what}): ${R} is reachable by other users`);
      warnedSetuid = true;
      return mode & 0o1777;
    }
    return mode & 0o7777;
  };

  /**
   * The group a new entry of `parent` gets, -1 when unsure: the parent's group when it is setgid (or when
   * the file system is mounted `grpid`), ours otherwise; both agree when the parent's group is ours.
   */
  const childGid = (parent: DirNode): number => (parent.sgid ? parent.gid : parent.gid === egid ? egid : -1);
  /** Whether a path just created in `parent` needs a chown to get the header's owner (new files are ours). */
  const needsChown = (parent: DirNode, h: TarHeader): boolean => preserveOwner && (h.uid !== euid || h.gid !== childGid(parent));

  /** lchown; false (with a warning) when the ids cannot be set here. */
  const lchownOrWarn = (p: string, h: TarHeader): boolean => {
    try {
      lchownSync(p, h.uid, h.gid);
      return true;
    } catch (e) {
      if (errno(e) !== 'EPERM' && errno(e) !== 'EINVAL') throw e;
      warn(`cannot chown ${p} to ${h.uid}:${h.gid}: ${errno(e)}`);
      return false;
    }
  };

  const setXattrs = async (p: string, h: TarHeader): Promise<void> => {
    for (const [k, v] of h.xattrs) {
      if (k === 'system.posix_acl_default') createMask = 0;
      if (isPrivateXattr(k)) {
        warn(`dropping xattr ${k} of ${h.name}`);
        continue;
      }
      if (!isRootUser && !k.startsWith('user.')) {
        warn(`skipping xattr ${k} of ${h.name}: needs root`);
        continue;
      }
      try {
        await setXattr(p, k, v, opts);
      } catch (e) {
        if (!isSkiffError(e, 'EIO')) throw e;
        warn((e as Error).message);
      }
    }
  };

  /** Opaque: remove from `dirComps` everything this layer did not write (recursively into what it did). */
  const clearLower = (dirComps: string[]): void => {
    const p = abs(dirComps);
    for (const n of readdirSync(p)) {
      const c = [...dirComps, n];
      const key = c.join('/');
      if (written.has(key) || touched.has(key)) {
        const st = lstatSync(join(p, n));
        if (st.isDirectory()) clearLower(c);
        continue;
      }
      const child = join(p, n);
      removeAt(child, lstatSync(child));
    }
  };

  const opaque = async (dirComps: string[]): Promise<void> => {
    result.whiteouts++;
    if (overlay) {
      await setXattr(abs(dirComps), opts.opaqueXattr ?? 'trusted.overlay.opaque', Buffer.from('y'), opts);
      return;
    }
    clearLower(dirComps);
  };

  const mknod = async (p: string, args: string[]): Promise<void> => {
    const r = await runProgram('mknod', [p, ...args], opts.signal);
    if (r.code !== 0) throw new SkiffError('EIO', `mknod ${p} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  };

  const whiteout = async (parentComps: string[], h: TarHeader, base: string): Promise<void> => {
    if (base === '.wh..wh..opq') {
      const dir = resolveDir(parentComps, overlay);
      if (dir === undefined) return;
      await opaque(dir.real);
      return;
    }
    const target = base.slice(4);
    if (target === '' || target === '.' || target === '..') {
      throw new SkiffError('EINVALID', `invalid whiteout ${JSON.stringify(h.name)}: it names no file`, { hint: 'the layer is malformed' });
    }
    const dir = resolveDir(parentComps, overlay);
    if (dir === undefined) return; // nothing below to hide
    const comps = [...dir.real, target];
    const key = comps.join('/');
    const p = abs(comps);
    if (written.has(key) || touched.has(key)) {
      // whiteouts never hide what this layer itself wrote (LA-10); a whited-out dir of ours becomes opaque
      const st = lstatOrUndef(p);
      if (st?.isDirectory()) await opaque(comps);
      return;
    }
    result.whiteouts++;
    if (overlay) {
      prepare(p, false);
      await mknod(p, ['c', '0', '0']);
      return;
    }
    const st = lstatOrUndef(p);
    if (st !== undefined) removeAt(p, st);
  };

  /** Finds a hardlink target in R (or, in overlay mode, copies it from a lower dir). */
  const hardlink = (comps: string[], p: string, h: TarHeader): void => {
    const tcomps = cleanPath(h.linkname ?? '', limits);
    if (tcomps.length === 0) throw new SkiffError('EUNSAFE', `hardlink ${h.name} points at the root directory`);
    const tdir = resolveDir(tcomps.slice(0, -1), false);
    const tabs = tdir ? abs([...tdir.real, tcomps[tcomps.length - 1]!]) : undefined;
    const tst = tabs ? lstatOrUndef(tabs) : undefined;
    if (tst !== undefined) {
      if (tst.isDirectory()) throw new SkiffError('EUNSAFE', `hardlink ${h.name} points at a directory (${h.linkname})`);
      if (tabs === p) return; // a link to itself: nothing to do
      // link(2) fails with EEXIST when the path is taken and never follows a symlink target
      createAt(p, () => linkSync(tabs!, p));
      result.hardlinks++;
      markWritten(comps);
      return;
    }
    if (overlay && opts.lowerDirs) {
      for (const lower of opts.lowerDirs) {
        const lp = join(lower, ...tcomps);
        const lst = lstatOrUndef(lp);
        // lower dirs were unpacked by us: a plain lexical path, accepted only when it is a regular file
        // reached through real directories
        if (lst?.isFile() && realpathSync(lp) === lp) {
          prepare(p, false);
          copyFileSync(lp, p, C.COPYFILE_EXCL);
          const fd = openSync(p, C.O_RDONLY | C.O_NOFOLLOW);
          try {
            if (preserveOwner) {
              try {
                fchownSync(fd, lst.uid, lst.gid);
              } catch {
                // keep our ownership
              }
            }
            fchmodSync(fd, lst.mode & 0o7777);
            futimesSync(fd, lst.atime, lst.mtime);
          } finally {
            closeSync(fd);
          }
          result.hardlinks++;
          markWritten(comps);
          return;
        }
      }
    }
    throw new SkiffError('EINVALID', `hardlink ${h.name} points at ${JSON.stringify(h.linkname)}, which does not exist in the image`);
  };

  const finishSpecial = async (p: string, h: TarHeader): Promise<void> => {
    if (preserveOwner) lchownOrWarn(p, h);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) throw new SkiffError('EUNSAFE', `${p} became a symlink`);
    chmodSync(p, permBits(h.mode, h.name));
    await setXattrs(p, h);
    lutimesSync(p, h.mtime, h.mtime);
  };

  const special = async (real: string[], p: string, h: TarHeader): Promise<void> => {
    if (h.type === 'fifo') {
      prepare(p, false);
      await mknod(p, ['p']);
      await finishSpecial(p, h);
      result.fifos++;
    } else {
      if (opts.devices === 'skip' || !isRootUser || !privateRoot) {
        const why = opts.devices === 'skip' ? 'devices are refused by policy' : !isRootUser ? 'not running as root' : `${R} is reachable by other users`;
        warn(`skipping device ${h.name}: ${why}`);
        result.skipped++;
        return;
      }
      prepare(p, false);
      await mknod(p, [h.type === 'character-device' ? 'c' : 'b', String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
      await finishSpecial(p, h);
      result.devices++;
    }
    markWritten(real);
  };

  /** Owner, mode and times of a file just created and written, on its O_EXCL|O_NOFOLLOW fd; closes it. */
  const finishFile = (fd: number, parent: DirNode, real: string[], p: string, h: TarHeader, perm: number, exact: boolean): void | Promise<void> => {
    try {
      if (needsChown(parent, h)) {
        try {
          fchownSync(fd, h.uid, h.gid);
        } catch (e) {
          warn(`cannot chown ${h.name} to ${h.uid}:${h.gid}: ${errno(e)}`);
        }
      }
      // unless created with exactly its mode: the umask or a default ACL may have masked it, and special bits
      // go on after chown, which clears setuid
      if (!exact) fchmodSync(fd, perm);
      // xattrs (set below, by path) change ctime only, so the times can be set now
      futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
    result.files++;
    markWritten(real);
    if (h.xattrs.size > 0) return setXattrs(p, h);
  };

  const entry = (h: TarHeader, body: TarBody): void | Promise<void> => {
    const comps = cleanPath(h.name, limits);
    if (comps.length === 0) {
      if (h.type === 'directory') return; // metadata of the root is not taken from layers
      throw new SkiffError('EUNSAFE', `refusing to change type of root directory (entry ${JSON.stringify(h.name)} is a ${h.type})`);
    }
    const base = comps[comps.length - 1]!;
    const parentComps = comps.slice(0, -1);
    if (base.startsWith('.wh.')) return whiteout(parentComps, h, base);
    const parent = resolveDir(parentComps, true)!;
    const real = parent.real === parentComps ? comps : [...parent.real, base];
    const p = abs(real);
    switch (h.type) {
      case 'directory': {
        let kept: Stats | undefined;
        try {
          mkdirSync(p, { mode: 0o700 });
        } catch (e) {
          if (errno(e) !== 'EEXIST') throw e;
          kept = prepare(p, true);
          if (kept === undefined) mkdirSync(p, { mode: 0o700 });
        }
        let node: DirNode;
        if (kept === undefined) node = addDir(parent.node, base, parent.node.sgid, childGid(parent.node));
        else {
          node = parent.node.kids?.get(base) ?? addDir(parent.node, base, false, -1);
          node.sgid = (kept.mode & S_ISGID) !== 0;
          node.gid = kept.gid;
        }
        if (kept ? preserveOwner && (kept.uid !== h.uid || kept.gid !== h.gid) : needsChown(parent.node, h)) node.gid = lchownOrWarn(p, h) ? h.gid : -1;
        const key = real.join('/');
        dirMeta.set(key, { comps: real, mode: permBits(h.mode, h.name), mtime: h.mtime });
        result.directories++;
        markWritten(real);
        if (h.xattrs.size > 0) return setXattrs(p, h);
        return;
      }
      case 'file': {
        const perm = permBits(h.mode, h.name);
        const exact = (perm & 0o7000) === 0 && (perm & ~createMask) === 0;
        const fd = createAt(p, () => openSync(p, CREATE_FILE, exact ? perm : 0o600));
        if (h.size === 0) return finishFile(fd, parent.node, real, p, h, perm, exact);
        return body.forEachChunk((b) => {
          let off = 0;
          while (off < b.length) off += writeSync(fd, b, off, b.length - off);
          result.bytes += b.length;
        }).then(
          () => finishFile(fd, parent.node, real, p, h, perm, exact),
          (e: unknown) => {
            closeSync(fd);
            throw e;
          },
        );
      }
      case 'symlink': {
        const target = h.linkname ?? '';
        createAt(p, () => symlinkSync(target, p));
        if (needsChown(parent.node, h)) lchownOrWarn(p, h);
        lutimesSync(p, h.mtime, h.mtime); // xattrs change ctime only
        result.symlinks++;
        markWritten(real);
        if (h.xattrs.size > 0) return setXattrs(p, h);
        return;
      }
      case 'link':
        return hardlink(real, p, h);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        return special(real, p, h);
    }
  };

  /** True when every component of `comps` is a real directory (no symlink crept in). */
  const isRealDir = (comps: string[]): boolean => {
    for (let i = 1; i <= comps.length; i++) {
      const st = lstatOrUndef(abs(comps.slice(0, i)));
      if (!st || !st.isDirectory()) return false;
    }
    return true;
  };

  await forEachTarEntry(
    tarStream,
    (header, body) => {
      throwIfAborted(opts.signal);
      if (++result.entries > limits.maxEntries) {
        throw new SkiffError('ELIMIT', `layer has more than ${limits.maxEntries} entries`, { hint: 'raise the entry limit if this layer is legitimate' });
      }
      if (mapIds) {
        header.uid = mapIds.uid(header.uid);
        header.gid = mapIds.gid(header.gid);
      }
      return entry(header, body);
    },
    opts,
  );

  // directory modes and times last: creating children changes a directory's mtime, and a read-only mode
  // would stop us writing into it. Deepest first.
  const metas = [...dirMeta.values()].sort((a, b) => b.comps.length - a.comps.length);
  for (const m of metas) {
    throwIfAborted(opts.signal);
    // replaced or removed later in the layer? The memo answers for what it knows; the rest is checked
    if (knownDir(m.comps) === undefined && !isRealDir(m.comps)) continue;
    let fd: number;
    try {
      fd = openSync(abs(m.comps), OPEN_DIR);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ELOOP' || errno(e) === 'ENOTDIR') continue;
      throw e;
    }
    try {
      fchmodSync(fd, m.mode);
      futimesSync(fd, m.mtime, m.mtime);
    } finally {
      closeSync(fd);
    }
  }
  return result;
}
