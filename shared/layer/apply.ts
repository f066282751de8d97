import {
  constants as C,
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { lstat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, isSkiffError, throwIfAborted } from '../errors.ts';
import { ConfinedRoot, O_PATH, fdPath, type DirNode } from './confined-root.ts';
import { runProgram } from '../process/run.ts';
import { forEachTarEntry, type TarBody, type TarHeader } from './tar-read.ts';
import { isPrivateXattr } from './tar-write.ts';
import { TreeManifest, type EntryKind } from './tree-manifest.ts';
import { setXattr } from './xattr.ts';

/*
 * Confinement policy (the contract every caller relies on; tests LA-01 … LA-20 check it):
 *
 * - Names are cleaned lexically like a chroot would: empty and `.` components dropped, `..` pops one
 *   component and is clamped at the root (`../victim/x` and `/../victim/x` land at `R/victim/x`, `/abs/f`
 *   at `R/abs/f`). Nothing is rejected for having `..`; nothing can name a path above R.
 * - Parent directories are resolved component by component through descriptors (confined-root.ts): each
 *   directory is opened O_NOFOLLOW from its parent's descriptor, and every entry is created, linked, removed
 *   or changed as `/proc/self/fd/<parent>/<name>`, which the kernel resolves through the pinned directory, not
 *   by walking a path again. A verified directory is remembered (descriptor and all) until the apply removes
 *   a directory. A symlink met in a parent is followed INSIDE R only: a relative target is resolved from its
 *   directory with `..` clamped at R, an absolute target is re-rooted at R (`var/run -> /run` then `var/run/x`
 *   lands at `R/run/x`, LA-14). So a symlink can never carry a write, link, whiteout or metadata operation
 *   out of R (LA-02, LA-06, LA-12). Missing parents are created (0755). A parent that exists and is not a
 *   directory is an error. More than 40 symlinks in one resolution is an error (a loop).
 * - Concurrent writers: the policy does not need R to hold still. Swapping a directory of R for a symlink, or
 *   renaming it, while a layer is applied cannot redirect a later operation out of R: what was opened stays
 *   the directory written to, and what was not is opened O_NOFOLLOW (a symlink is then followed inside R, as
 *   above). A remembered directory whose name no longer opens as a directory fails the apply with EUNSAFE.
 *   The tree such a writer leaves is not what the layer said: the unpack cache checks it (verifyTree).
 * - The last component is never followed: it is what the entry creates or replaces.
 * - Metadata never follows a symlink: files get fchown/fchmod/futimes on the O_EXCL|O_NOFOLLOW fd that
 *   created them; symlinks get lchown/lutimes and no chmod; FIFOs and devices get chown/chmod/utimes through
 *   an O_PATH|O_NOFOLLOW descriptor checked not to be a symlink; directories get theirs at the end through a
 *   descriptor reached from R by O_NOFOLLOW opens only (a path that became a symlink or a file is skipped);
 *   xattrs use `setfattr -h`, handed the parent's descriptor. overlayfs-private xattrs (`trusted.overlay.*`)
 *   in a layer are dropped.
 * - The root: a directory entry for `.`/`/` is accepted and its metadata ignored (R keeps the mode its owner
 *   gave it); any other type is refused ("refusing to change type of root directory", LA-05).
 * - Type replacement: an entry replaces what is at its path unless both are directories (then metadata
 *   merges); a replaced directory is removed recursively through descriptors, without following symlinks
 *   (LA-12). Duplicates: the last entry for a path wins.
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

const isRootUser = process.getuid?.() === 0;
const S_ISGID = 0o2000;
const CREATE_FILE = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;
const OPEN_DIR = O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** The EntryKind of what `st` describes. */
function kindOfStats(st: Stats): EntryKind {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'file';
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

/**
 * Applies one layer tar stream onto the directory `root` under the confinement policy above. Not atomic:
 * on error R holds a partial result and the caller must discard it. Bodies stream straight to disk.
 * Signature and behaviour are those of LayerApplier.apply on a fresh applier, which it closes.
 */
export async function applyLayer(root: string, tarStream: Readable, opts: ApplyOptions = {}): Promise<ApplyResult> {
  // errors before forEachTarEntry attaches its handler are kept in tarStream.errored and rethrown there
  tarStream.on('error', () => {});
  const applier = await LayerApplier.open(root, opts);
  try {
    return await applier.apply(tarStream);
  } finally {
    applier.close();
  }
}

/**
 * One layer applied onto one root R (the shape of umoci's TarExtractor): the fields are the apply's state —
 * R held open with its memo of verified directories, what the layer wrote so far, directory metadata
 * deferred to the end — and the methods are the entry kinds, whiteouts and metadata steps.
 *
 * Speed: file system calls are synchronous (the apply is the only work of its process while it runs; the
 * tar stream is still read asynchronously), and directories verified once are remembered (and held open)
 * for the rest of the apply instead of being checked again for every entry. Files are created with
 * O_EXCL|O_NOFOLLOW and get their owner, mode and times through that fd (the mode at creation already when
 * the umask and default ACL leave it intact); a chown is skipped only when the new entry already has the
 * header's owner (our uid, and the group the parent directory gives it).
 *
 * Use: `open`, `apply` once, optionally `verifyTree`, then `close` (always: it releases the descriptors).
 */
export class LayerApplier {
  readonly #root: ConfinedRoot;
  readonly #opts: ApplyOptions;
  readonly #limits: Required<ApplyLimits>;
  readonly #overlay: boolean;
  readonly #preserveOwner: boolean;
  readonly #privateRoot: boolean;
  readonly #startedEmpty: boolean;
  readonly #euid = process.geteuid?.() ?? 0;
  readonly #result: ApplyResult = { entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, whiteouts: 0, bytes: 0, skipped: 0, warnings: [] };
  /** what this layer left in R, path by path (whiteout semantics and verifyTree) */
  readonly #manifest = new TreeManifest();
  /** directory modes and times, applied last (keys: real components joined by '/') */
  readonly #dirMeta = new Map<string, DirMeta>();
  /**
   * The permission bits a file created with mode 0777 really gets here (umask, a default ACL on the root): a
   * file whose mode survives that mask is created with its mode and needs no fchmod. 0 (always fchmod) once
   * the layer sets a default ACL of its own.
   */
  #createMask: number;
  #warnedSetuid = false;
  #applied = false;

  private constructor(root: ConfinedRoot, opts: ApplyOptions, limits: Required<ApplyLimits>, privateRoot: boolean, startedEmpty: boolean) {
    this.#root = root;
    this.#opts = opts;
    this.#limits = limits;
    this.#overlay = opts.mode === 'overlay';
    this.#preserveOwner = opts.preserveOwnership ?? isRootUser;
    this.#privateRoot = privateRoot;
    this.#startedEmpty = startedEmpty;
    this.#createMask = this.#probeCreateMask();
  }

  /** Opens R for one apply. Fails with EINVALID when R is not a directory. */
  static async open(root: string, opts: ApplyOptions = {}): Promise<LayerApplier> {
    const limits = { ...DEFAULT_APPLY_LIMITS, ...opts.limits };
    const r = ConfinedRoot.open(root, { maxDepth: limits.maxDepth });
    try {
      const privateRoot = await isPrivateRoot(r.path);
      const startedEmpty = readdirSync(fdPath(r.fdOf(r.root))).length === 0;
      return new LayerApplier(r, opts, limits, privateRoot, startedEmpty);
    } catch (e) {
      r.close();
      throw e;
    }
  }

  /** Applies the layer (once per applier); the ApplyResult counts what it did. */
  async apply(tarStream: Readable): Promise<ApplyResult> {
    if (this.#applied) throw new SkiffError('EINVALID', 'a LayerApplier applies one layer');
    this.#applied = true;
    tarStream.on('error', () => {});
    const { signal } = this.#opts;
    const { maxEntries } = this.#limits;
    const mapIds = this.#opts.mapIds;
    await forEachTarEntry(
      tarStream,
      (header, body) => {
        throwIfAborted(signal);
        this.#root.trim();
        if (++this.#result.entries > maxEntries) {
          throw new SkiffError('ELIMIT', `layer has more than ${maxEntries} entries`, { hint: 'raise the entry limit if this layer is legitimate' });
        }
        if (mapIds) {
          header.uid = mapIds.uid(header.uid);
          header.gid = mapIds.gid(header.gid);
        }
        return this.#entry(header, body);
      },
      this.#opts,
    );
    this.#finishDirectories();
    return this.#result;
  }

  /**
   * Checks that R, which was empty before the apply, holds exactly what the layer wrote: every path with its
   * type, nothing else (a concurrent writer, or a file system that lost entries, makes it fail with
   * EINTEGRITY). Only after apply; R must have started empty (EINVALID otherwise).
   */
  verifyTree(): void {
    if (!this.#applied) throw new SkiffError('EINVALID', 'verifyTree runs after apply');
    if (!this.#startedEmpty) throw new SkiffError('EINVALID', `cannot verify ${this.#root.path}: it was not empty before the layer was applied`);
    this.#root.trim();
    this.#manifest.verify(this.#root.fdOf(this.#root.root), this.#root.path);
  }

  /** Releases every descriptor. Idempotent. */
  close(): void {
    this.#root.close();
  }

  // ---- entries ---------------------------------------------------------------------------------------

  #entry(h: TarHeader, body: TarBody): void | Promise<void> {
    const comps = cleanPath(h.name, this.#limits);
    if (comps.length === 0) {
      if (h.type === 'directory') return; // metadata of the root is not taken from layers
      throw new SkiffError('EUNSAFE', `refusing to change type of root directory (entry ${JSON.stringify(h.name)} is a ${h.type})`);
    }
    const base = comps[comps.length - 1]!;
    const parentComps = comps.slice(0, -1);
    if (base.startsWith('.wh.')) return this.#whiteout(parentComps, h, base);
    const parent = this.#root.resolveDir(parentComps, true)!;
    const real = parent.real === parentComps ? comps : [...parent.real, base];
    switch (h.type) {
      case 'directory':
        return this.#directory(parent.node, base, real, h);
      case 'file':
        return this.#file(parent.node, base, real, h, body);
      case 'symlink':
        return this.#symlink(parent.node, base, real, h);
      case 'link':
        return this.#hardlink(parent.node, base, real, h);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        return this.#special(parent.node, base, real, h);
    }
  }

  #directory(dir: DirNode, name: string, real: string[], h: TarHeader): void | Promise<void> {
    const r = this.#root;
    let kept: Stats | undefined;
    try {
      mkdirSync(r.at(dir, name), { mode: 0o700 });
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      kept = this.#prepare(dir, name, real, true);
      if (kept === undefined) mkdirSync(r.at(dir, name), { mode: 0o700 });
    }
    let node: DirNode;
    if (kept === undefined) node = r.addDir(dir, name, dir.sgid, r.childGid(dir));
    else {
      node = dir.kids?.get(name) ?? r.addDir(dir, name, false, -1);
      node.sgid = (kept.mode & S_ISGID) !== 0;
      node.gid = kept.gid;
    }
    if (kept ? this.#preserveOwner && (kept.uid !== h.uid || kept.gid !== h.gid) : this.#needsChown(dir, h)) {
      node.gid = this.#chownOrWarn(h, () => lchownSync(r.at(dir, name), h.uid, h.gid)) ? h.gid : -1;
    }
    this.#dirMeta.set(real.join('/'), { comps: real, mode: this.#permBits(h.mode, h.name), mtime: h.mtime });
    this.#result.directories++;
    this.#manifest.add(real, 'directory');
    if (h.xattrs.size > 0) return this.#setXattrs(dir, name, h);
  }

  #file(dir: DirNode, name: string, real: string[], h: TarHeader, body: TarBody): void | Promise<void> {
    const perm = this.#permBits(h.mode, h.name);
    const exact = (perm & 0o7000) === 0 && (perm & ~this.#createMask) === 0;
    const fd = this.#createAt(dir, name, real, (p) => openSync(p, CREATE_FILE, exact ? perm : 0o600));
    if (h.size === 0) return this.#finishFile(fd, dir, name, real, h, perm, exact);
    const result = this.#result;
    return body
      .forEachChunk((b) => {
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off, b.length - off);
        result.bytes += b.length;
      })
      .then(
        () => this.#finishFile(fd, dir, name, real, h, perm, exact),
        (e: unknown) => {
          closeSync(fd);
          throw e;
        },
      );
  }

  /** Owner, mode and times of a file just created and written, on its O_EXCL|O_NOFOLLOW fd; closes it. */
  #finishFile(fd: number, dir: DirNode, name: string, real: string[], h: TarHeader, perm: number, exact: boolean): void | Promise<void> {
    try {
      if (this.#needsChown(dir, h)) this.#chownOrWarn(h, () => fchownSync(fd, h.uid, h.gid));
      // unless created with exactly its mode: the umask or a default ACL may have masked it, and special bits
      // go on after chown, which clears setuid
      if (!exact) fchmodSync(fd, perm);
      // xattrs (set below, by path) change ctime only, so the times can be set now
      futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
    this.#result.files++;
    this.#manifest.add(real, 'file');
    if (h.xattrs.size > 0) return this.#setXattrs(dir, name, h);
  }

  #symlink(dir: DirNode, name: string, real: string[], h: TarHeader): void | Promise<void> {
    const r = this.#root;
    const target = h.linkname ?? '';
    this.#createAt(dir, name, real, (p) => symlinkSync(target, p));
    if (this.#needsChown(dir, h)) this.#chownOrWarn(h, () => lchownSync(r.at(dir, name), h.uid, h.gid));
    lutimesSync(r.at(dir, name), h.mtime, h.mtime); // xattrs change ctime only
    this.#result.symlinks++;
    this.#manifest.add(real, 'symlink');
    if (h.xattrs.size > 0) return this.#setXattrs(dir, name, h);
  }

  /** Links to a target in R (or, in overlay mode, copies it from a lower dir). */
  #hardlink(dir: DirNode, name: string, real: string[], h: TarHeader): void {
    const r = this.#root;
    const tcomps = cleanPath(h.linkname ?? '', this.#limits);
    if (tcomps.length === 0) throw new SkiffError('EUNSAFE', `hardlink ${h.name} points at the root directory`);
    const tname = tcomps[tcomps.length - 1]!;
    const tdir = r.resolveDir(tcomps.slice(0, -1), false);
    const tst = tdir ? r.lstat(tdir.node, tname) : undefined;
    if (tdir !== undefined && tst !== undefined) {
      if (tst.isDirectory()) throw new SkiffError('EUNSAFE', `hardlink ${h.name} points at a directory (${h.linkname})`);
      if ([...tdir.real, tname].join('/') === real.join('/')) return; // a link to itself: nothing to do
      // link(2) fails with EEXIST when the path is taken and never follows a symlink target
      this.#createAt(dir, name, real, (p) => linkSync(r.at(tdir.node, tname), p));
      this.#result.hardlinks++;
      this.#manifest.add(real, kindOfStats(tst));
      return;
    }
    if (this.#overlay && this.#opts.lowerDirs) {
      for (const lower of this.#opts.lowerDirs) {
        const lp = join(lower, ...tcomps);
        const lst = lstatSync(lp, { throwIfNoEntry: false });
        // lower dirs were unpacked by us: a plain lexical path, accepted only when it is a regular file
        // reached through real directories
        if (lst?.isFile() && realpathSync(lp) === lp) {
          this.#copyFromLower(dir, name, real, lp, lst);
          return;
        }
      }
    }
    throw new SkiffError('EINVALID', `hardlink ${h.name} points at ${JSON.stringify(h.linkname)}, which does not exist in the image`);
  }

  /** A hardlink to a lower layer's file, in overlay mode: a copy with the lower file's owner, mode and times. */
  #copyFromLower(dir: DirNode, name: string, real: string[], lp: string, lst: Stats): void {
    const r = this.#root;
    this.#prepare(dir, name, real, false);
    copyFileSync(lp, r.at(dir, name), C.COPYFILE_EXCL);
    const fd = openSync(r.at(dir, name), C.O_RDONLY | C.O_NOFOLLOW);
    try {
      if (this.#preserveOwner) {
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
    this.#result.hardlinks++;
    this.#manifest.add(real, 'file');
  }

  async #special(dir: DirNode, name: string, real: string[], h: TarHeader): Promise<void> {
    if (h.type === 'fifo') {
      this.#prepare(dir, name, real, false);
      await this.#mknod(dir, name, ['p']);
      await this.#finishSpecial(dir, name, h);
      this.#result.fifos++;
      this.#manifest.add(real, 'fifo');
      return;
    }
    const policy = this.#opts.devices;
    if (policy === 'skip' || !isRootUser || !this.#privateRoot) {
      const why = policy === 'skip' ? 'devices are refused by policy' : !isRootUser ? 'not running as root' : `${this.#root.path} is reachable by other users`;
      this.#warn(`skipping device ${h.name}: ${why}`);
      this.#result.skipped++;
      return;
    }
    const char = h.type === 'character-device';
    this.#prepare(dir, name, real, false);
    await this.#mknod(dir, name, [char ? 'c' : 'b', String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
    await this.#finishSpecial(dir, name, h);
    this.#result.devices++;
    this.#manifest.add(real, char ? 'char' : 'block');
  }

  /** mknod(1) of entry `name` of `dir`, handed the directory's descriptor. */
  async #mknod(dir: DirNode, name: string, args: string[]): Promise<void> {
    const { fd, path } = this.#root.programPath(dir, name);
    const r = await runProgram('mknod', [path, ...args], { signal: this.#opts.signal, fds: [fd] });
    if (r.code !== 0) throw new SkiffError('EIO', `mknod ${this.#show(dir, name)} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  }

  /** Owner, mode, times and xattrs of a FIFO or device just made, through an O_PATH descriptor of it. */
  async #finishSpecial(dir: DirNode, name: string, h: TarHeader): Promise<void> {
    const fd = openSync(this.#root.at(dir, name), O_PATH | C.O_NOFOLLOW);
    try {
      if (fstatSync(fd).isSymbolicLink()) throw new SkiffError('EUNSAFE', `${this.#show(dir, name)} became a symlink`);
      const self = fdPath(fd); // the inode itself: chown, chmod and utimes through it reach nothing else
      if (this.#preserveOwner) this.#chownOrWarn(h, () => chownSync(self, h.uid, h.gid));
      chmodSync(self, this.#permBits(h.mode, h.name));
      utimesSync(self, h.mtime, h.mtime); // xattrs change ctime only
    } finally {
      closeSync(fd);
    }
    await this.#setXattrs(dir, name, h);
  }

  // ---- whiteouts -------------------------------------------------------------------------------------

  async #whiteout(parentComps: string[], h: TarHeader, base: string): Promise<void> {
    const r = this.#root;
    if (base === '.wh..wh..opq') {
      const dir = r.resolveDir(parentComps, this.#overlay);
      if (dir === undefined) return;
      return this.#opaque(dir.node, dir.real);
    }
    const target = base.slice(4);
    if (target === '' || target === '.' || target === '..') {
      throw new SkiffError('EINVALID', `invalid whiteout ${JSON.stringify(h.name)}: it names no file`, { hint: 'the layer is malformed' });
    }
    const dir = r.resolveDir(parentComps, this.#overlay);
    if (dir === undefined) return; // nothing below to hide
    const comps = [...dir.real, target];
    if (this.#manifest.has(comps)) {
      // whiteouts never hide what this layer itself wrote (LA-10); a whited-out dir of ours becomes opaque
      const kid = r.openKid(dir.node, target);
      if (kid !== undefined) await this.#opaque(kid, comps);
      return;
    }
    this.#result.whiteouts++;
    if (this.#overlay) {
      this.#prepare(dir.node, target, comps, false);
      await this.#mknod(dir.node, target, ['c', '0', '0']);
      this.#manifest.add(comps, 'char', false);
      return;
    }
    const st = r.lstat(dir.node, target);
    if (st !== undefined) this.#remove(dir.node, target, comps, st);
  }

  /** An opaque marker on directory `node` (real components `real`). */
  async #opaque(node: DirNode, real: string[]): Promise<void> {
    this.#result.whiteouts++;
    if (this.#overlay) {
      this.#manifest.add(real, undefined, false); // it may have been created just for the marker
      const { fd, path } = this.#root.programPath(node, '.');
      await setXattr(path, this.#opts.opaqueXattr ?? 'trusted.overlay.opaque', Buffer.from('y'), { signal: this.#opts.signal, fd });
      return;
    }
    this.#clearLower(this.#root.fdOf(node), real);
  }

  /**
   * Opaque in merged mode: removes from the directory pinned by `fd` (real components `comps`) everything this
   * layer did not write, recursively into what it did. Subdirectories are opened O_NOFOLLOW for the walk only.
   */
  #clearLower(fd: number, comps: string[]): void {
    for (const n of readdirSync(fdPath(fd))) {
      const c = [...comps, n];
      const p = `${fdPath(fd)}/${n}`;
      if (this.#manifest.has(c)) {
        let kfd: number;
        try {
          kfd = openSync(p, OPEN_DIR);
        } catch (e) {
          if (errno(e) === 'ENOTDIR' || errno(e) === 'ELOOP' || errno(e) === 'ENOENT') continue; // not a directory
          throw e;
        }
        try {
          this.#clearLower(kfd, c);
        } finally {
          closeSync(kfd);
        }
        continue;
      }
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      this.#root.removeIn(fd, n, st);
      this.#manifest.drop(c);
    }
  }

  // ---- shared steps ----------------------------------------------------------------------------------

  /** Removes entry `name` of `dir` (real components `real`), described by `st`; never follows symlinks. */
  #remove(dir: DirNode, name: string, real: string[], st: Stats): void {
    this.#root.removeIn(this.#root.fdOf(dir), name, st);
    this.#manifest.drop(real);
  }

  /**
   * Clears what sits at entry `name` of `dir` unless it is a dir and we want a dir. Returns the kept
   * directory's stats (undefined when the path is free now).
   */
  #prepare(dir: DirNode, name: string, real: string[], wantDir: boolean): Stats | undefined {
    const st = this.#root.lstat(dir, name);
    if (st === undefined) return undefined;
    if (wantDir && st.isDirectory()) return st;
    this.#remove(dir, name, real, st);
    return undefined;
  }

  /**
   * Runs `create` on the descriptor path of `name` in `dir` (it must fail with EEXIST when the path is taken);
   * on EEXIST clears the path and retries once.
   */
  #createAt<T>(dir: DirNode, name: string, real: string[], create: (p: string) => T): T {
    try {
      return create(this.#root.at(dir, name));
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
    this.#prepare(dir, name, real, false);
    return create(this.#root.at(dir, name));
  }

  /** Directory modes and times last (creating children changes a directory's mtime, and a read-only mode would stop us writing into it), deepest first. */
  #finishDirectories(): void {
    const r = this.#root;
    const metas = [...this.#dirMeta.values()].sort((a, b) => b.comps.length - a.comps.length);
    for (const m of metas) {
      throwIfAborted(this.#opts.signal);
      r.trim();
      // replaced or removed later in the layer? Only a real directory reached through real ones gets it
      const node = r.realDir(m.comps);
      if (node === undefined) continue;
      const self = fdPath(r.fdOf(node));
      chmodSync(self, m.mode);
      utimesSync(self, m.mtime, m.mtime);
    }
  }

  async #setXattrs(dir: DirNode, name: string, h: TarHeader): Promise<void> {
    for (const [k, v] of h.xattrs) {
      if (k === 'system.posix_acl_default') this.#createMask = 0;
      if (isPrivateXattr(k)) {
        this.#warn(`dropping xattr ${k} of ${h.name}`);
        continue;
      }
      if (!isRootUser && !k.startsWith('user.')) {
        this.#warn(`skipping xattr ${k} of ${h.name}: needs root`);
        continue;
      }
      const { fd, path } = this.#root.programPath(dir, name);
      try {
        await setXattr(path, k, v, { signal: this.#opts.signal, fd });
      } catch (e) {
        if (!isSkiffError(e, 'EIO')) throw e;
        this.#warn((e as Error).message);
      }
    }
  }

  #permBits(mode: number, what: string): number {
    if (mode & 0o6000 && !this.#privateRoot) {
      if (!this.#warnedSetuid) this.#warn(`stripping setuid/setgid bits (first: ${what}): ${this.#root.path} is reachable by other users`);
      this.#warnedSetuid = true;
      return mode & 0o1777;
    }
    return mode & 0o7777;
  }

  /** Whether a path just created in `dir` needs a chown to get the header's owner (new files are ours). */
  #needsChown(dir: DirNode, h: TarHeader): boolean {
    return this.#preserveOwner && (h.uid !== this.#euid || h.gid !== this.#root.childGid(dir));
  }

  /** Runs a chown; false (with a warning) when the ids cannot be set here. */
  #chownOrWarn(h: TarHeader, chown: () => void): boolean {
    try {
      chown();
      return true;
    } catch (e) {
      if (errno(e) !== 'EPERM' && errno(e) !== 'EINVAL') throw e;
      this.#warn(`cannot chown ${h.name} to ${h.uid}:${h.gid}: ${errno(e)}`);
      return false;
    }
  }

  #warn(m: string): void {
    this.#result.warnings.push(m);
    this.#opts.onWarning?.(m);
  }

  /** R-relative path of entry `name` of `dir` under R's path, for messages. */
  #show(dir: DirNode, name: string): string {
    return join(this.#root.path, this.#root.describe(dir), name);
  }

  /** The permission bits a new file created with mode 0777 in R gets (umask and default ACL applied). */
  #probeCreateMask(): number {
    const r = this.#root;
    const name = `.skiff-mode-probe-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const fd = openSync(r.at(r.root, name), CREATE_FILE, 0o777);
    try {
      return fstatSync(fd).mode & 0o777;
    } finally {
      closeSync(fd);
      unlinkSync(r.at(r.root, name));
    }
  }
}
