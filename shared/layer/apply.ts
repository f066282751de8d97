import { constants as C, type Stats } from 'node:fs';
import { copyFile, lchown, link, lstat, lutimes, mkdir, open, readdir, readlink, realpath, rm, symlink, unlink, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, isSkiffError, throwIfAborted } from '../errors.ts';
import { runProgram } from './exec.ts';
import { readTar, type TarHeader } from './tar-read.ts';
import { isPrivateXattr } from './tar-write.ts';
import { setXattr } from './xattr.ts';

/*
 * Confinement policy (the contract every caller relies on; tests LA-01 … LA-20 check it):
 *
 * - Names are cleaned lexically like a chroot would: empty and `.` components dropped, `..` pops one
 *   component and is clamped at the root (`../victim/x` and `/../victim/x` land at `R/victim/x`, `/abs/f`
 *   at `R/abs/f`). Nothing is rejected for having `..`; nothing can name a path above R.
 * - Parent directories are resolved component by component with lstat. A symlink met in a parent is
 *   followed INSIDE R only: a relative target is resolved from its directory with `..` clamped at R, an
 *   absolute target is re-rooted at R (`var/run -> /run` then `var/run/x` lands at `R/run/x`, LA-14). So a
 *   symlink can never carry a write, link, whiteout or metadata operation out of R (LA-02, LA-06, LA-12).
 *   Missing parents are created (0755). A parent that exists and is not a directory is an error.
 *   More than 40 symlinks in one resolution is an error (a loop).
 * - The last component is never followed: it is what the entry creates or replaces.
 * - Metadata never follows a symlink: files get fchown/fchmod/futimes on the O_EXCL|O_NOFOLLOW fd that
 *   created them; symlinks get lchown/lutimes and no chmod; directories get theirs at the end through an
 *   O_DIRECTORY|O_NOFOLLOW fd after re-checking that no component of the path became a symlink; xattrs use
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
  /** `create` (default when root) or `skip` devices (always skipped when not root) */
  devices?: 'create' | 'skip';
  /** chown to the archive's uid/gid; default: when running as root */
  preserveOwnership?: boolean;
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

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

async function lstatOrUndef(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (e) {
    if (errno(e) === 'ENOENT') return undefined;
    throw e;
  }
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

/**
 * Applies one layer tar stream onto the directory `root` under the confinement policy above. Not atomic:
 * on error R holds a partial result and the caller must discard it. Bodies stream straight to disk.
 */
export async function applyLayer(root: string, tarStream: Readable, opts: ApplyOptions = {}): Promise<ApplyResult> {
  // errors before readTar attaches its handler are kept in tarStream.errored and rethrown there
  tarStream.on('error', () => {});
  const R = await realpath(root);
  const rootSt = await lstat(R);
  if (!rootSt.isDirectory()) throw new SkiffError('EINVALID', `${root} is not a directory`);
  const limits = { ...DEFAULT_APPLY_LIMITS, ...opts.limits };
  const overlay = opts.mode === 'overlay';
  const preserveOwner = opts.preserveOwnership ?? isRootUser;
  const privateRoot = await isPrivateRoot(R);
  const result: ApplyResult = { entries: 0, files: 0, directories: 0, symlinks: 0, hardlinks: 0, devices: 0, fifos: 0, whiteouts: 0, bytes: 0, skipped: 0, warnings: [] };
  const warn = (m: string): void => {
    result.warnings.push(m);
    opts.onWarning?.(m);
  };
  let warnedSetuid = false;
  const written = new Set<string>(); // paths this layer created (keys: real components joined by '/')
  const touched = new Set<string>(); // ancestors of written paths
  const dirMeta = new Map<string, DirMeta>();
  let dirCache = new Set<string>(); // real dirs verified since the last removal
  const abs = (comps: string[]): string => (comps.length ? join(R, ...comps) : R);
  const markWritten = (comps: string[]): void => {
    written.add(comps.join('/'));
    for (let i = 1; i < comps.length; i++) touched.add(comps.slice(0, i).join('/'));
  };

  /** Resolves a directory inside R following in-root symlinks; undefined when missing and !create. */
  const resolveDir = async (comps: string[], create: boolean): Promise<string[] | undefined> => {
    let real: string[] = [];
    const queue = [...comps];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        real.pop();
        continue;
      }
      const next = [...real, c];
      const key = next.join('/');
      if (dirCache.has(key)) {
        real = next;
        continue;
      }
      const p = abs(next);
      const st = await lstatOrUndef(p);
      if (st === undefined) {
        if (!create) return undefined;
        await mkdir(p, { mode: 0o755 });
        dirCache.add(key);
        real = next;
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > 40) throw new SkiffError('EUNSAFE', `too many levels of symbolic links resolving ${comps.join('/')}`);
        const target = await readlink(p);
        if (target.startsWith('/')) real = [];
        queue.unshift(...target.split('/'));
        if (real.length + queue.length > limits.maxDepth * 4) throw new SkiffError('ELIMIT', `symlink resolution of ${comps.join('/')} is too deep`);
        continue;
      }
      if (!st.isDirectory()) throw new SkiffError('EINVALID', `cannot create ${comps.join('/')}: ${key} is not a directory`);
      dirCache.add(key);
      real = next;
    }
    return real;
  };

  const removeAt = async (p: string): Promise<void> => {
    // rm never follows symlinks: a symlink is unlinked, a directory's contents are removed in place
    await rm(p, { recursive: true, force: true });
    dirCache = new Set();
  };

  /** Clears what sits at `comps` unless it is a dir and we want a dir. Returns true when a dir is kept. */
  const prepare = async (comps: string[], wantDir: boolean): Promise<boolean> => {
    const p = abs(comps);
    const st = await lstatOrUndef(p);
    if (st === undefined) return false;
    if (wantDir && st.isDirectory()) return true;
    if (st.isDirectory()) await removeAt(p);
    else await unlink(p);
    return false;
  };

  const permBits = (mode: number, what: string): number => {
    if (mode & 0o6000 && !privateRoot) {
      if (!warnedSetuid) warn(`stripping setuid/setgid bits (first: ${what}): ${R} is reachable by other users`);
      warnedSetuid = true;
      return mode & 0o1777;
    }
    return mode & 0o7777;
  };

  const setOwner = async (p: string, h: TarHeader): Promise<void> => {
    if (!preserveOwner) return;
    try {
      await lchown(p, h.uid, h.gid);
    } catch (e) {
      if (errno(e) !== 'EPERM' && errno(e) !== 'EINVAL') throw e;
      warn(`cannot chown ${p} to ${h.uid}:${h.gid}: ${errno(e)}`);
    }
  };

  const setXattrs = async (p: string, h: TarHeader): Promise<void> => {
    for (const [k, v] of h.xattrs) {
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
  const clearLower = async (dirComps: string[]): Promise<void> => {
    const p = abs(dirComps);
    for (const n of await readdir(p)) {
      const c = [...dirComps, n];
      const key = c.join('/');
      if (written.has(key) || touched.has(key)) {
        const st = await lstat(join(p, n));
        if (st.isDirectory()) await clearLower(c);
        continue;
      }
      await removeAt(join(p, n));
    }
  };

  const opaque = async (dirComps: string[]): Promise<void> => {
    result.whiteouts++;
    if (overlay) {
      await setXattr(abs(dirComps), 'trusted.overlay.opaque', Buffer.from('y'), opts);
      return;
    }
    await clearLower(dirComps);
  };

  const mknod = async (p: string, args: string[]): Promise<void> => {
    const r = await runProgram('mknod', [p, ...args], opts.signal);
    if (r.code !== 0) throw new SkiffError('EIO', `mknod ${p} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  };

  const whiteout = async (parentComps: string[], h: TarHeader, base: string): Promise<void> => {
    if (base === '.wh..wh..opq') {
      const dir = await resolveDir(parentComps, overlay);
      if (dir === undefined) return;
      await opaque(dir);
      return;
    }
    const target = base.slice(4);
    if (target === '' || target === '.' || target === '..') {
      throw new SkiffError('EINVALID', `invalid whiteout ${JSON.stringify(h.name)}: it names no file`, { hint: 'the layer is malformed' });
    }
    const dir = await resolveDir(parentComps, overlay);
    if (dir === undefined) return; // nothing below to hide
    const comps = [...dir, target];
    const key = comps.join('/');
    const p = abs(comps);
    if (written.has(key) || touched.has(key)) {
      // whiteouts never hide what this layer itself wrote (LA-10); a whited-out dir of ours becomes opaque
      const st = await lstatOrUndef(p);
      if (st?.isDirectory()) await opaque(comps);
      return;
    }
    result.whiteouts++;
    if (overlay) {
      await prepare(comps, false);
      await mknod(p, ['c', '0', '0']);
      return;
    }
    if ((await lstatOrUndef(p)) !== undefined) await removeAt(p);
  };

  /** Finds a hardlink target in R (or, in overlay mode, copies it from a lower dir). */
  const hardlink = async (comps: string[], h: TarHeader): Promise<void> => {
    const tcomps = cleanPath(h.linkname ?? '', limits);
    if (tcomps.length === 0) throw new SkiffError('EUNSAFE', `hardlink ${h.name} points at the root directory`);
    const tdir = await resolveDir(tcomps.slice(0, -1), false);
    const tabs = tdir ? abs([...tdir, tcomps[tcomps.length - 1]!]) : undefined;
    const tst = tabs ? await lstatOrUndef(tabs) : undefined;
    const p = abs(comps);
    if (tst !== undefined) {
      if (tst.isDirectory()) throw new SkiffError('EUNSAFE', `hardlink ${h.name} points at a directory (${h.linkname})`);
      if (tabs === p) return; // a link to itself: nothing to do
      await prepare(comps, false);
      await link(tabs!, p);
      result.hardlinks++;
      markWritten(comps);
      return;
    }
    if (overlay && opts.lowerDirs) {
      for (const lower of opts.lowerDirs) {
        const lp = join(lower, ...tcomps);
        const lst = await lstatOrUndef(lp);
        // lower dirs were unpacked by us: a plain lexical path, accepted only when it is a regular file
        // reached through real directories
        if (lst?.isFile() && (await realpath(lp)) === lp) {
          await prepare(comps, false);
          await copyFile(lp, p, C.COPYFILE_EXCL);
          if (preserveOwner) await lchown(p, lst.uid, lst.gid).catch(() => {});
          await chmod(p, lst.mode & 0o7777);
          await lutimes(p, lst.atime, lst.mtime);
          result.hardlinks++;
          markWritten(comps);
          return;
        }
      }
    }
    throw new SkiffError('EINVALID', `hardlink ${h.name} points at ${JSON.stringify(h.linkname)}, which does not exist in the image`);
  };

  const entry = async (h: TarHeader, body: Readable): Promise<void> => {
    const comps = cleanPath(h.name, limits);
    if (comps.length === 0) {
      if (h.type === 'directory') return; // metadata of the root is not taken from layers
      throw new SkiffError('EUNSAFE', `refusing to change type of root directory (entry ${JSON.stringify(h.name)} is a ${h.type})`);
    }
    const base = comps[comps.length - 1]!;
    if (base.startsWith('.wh.')) return whiteout(comps.slice(0, -1), h, base);
    const parent = await resolveDir(comps.slice(0, -1), true);
    const real = [...parent!, base];
    const p = abs(real);
    switch (h.type) {
      case 'directory': {
        if (!(await prepare(real, true))) await mkdir(p, { mode: 0o700 });
        await setOwner(p, h);
        await setXattrs(p, h);
        dirMeta.set(real.join('/'), { comps: real, mode: permBits(h.mode, h.name), mtime: h.mtime });
        dirCache.add(real.join('/'));
        result.directories++;
        break;
      }
      case 'file': {
        await prepare(real, false);
        const fh = await open(p, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body) {
            const b = chunk as Buffer;
            let off = 0;
            while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
            result.bytes += b.length;
          }
          if (preserveOwner) {
            try {
              await fh.chown(h.uid, h.gid);
            } catch (e) {
              warn(`cannot chown ${h.name} to ${h.uid}:${h.gid}: ${errno(e)}`);
            }
          }
          await fh.chmod(permBits(h.mode, h.name));
        } finally {
          await fh.close();
        }
        await setXattrs(p, h);
        const fh2 = await open(p, C.O_RDONLY | C.O_NOFOLLOW);
        try {
          await fh2.utimes(h.mtime, h.mtime);
        } finally {
          await fh2.close();
        }
        result.files++;
        break;
      }
      case 'symlink': {
        await prepare(real, false);
        await symlink(h.linkname ?? '', p);
        await setOwner(p, h);
        await setXattrs(p, h);
        await lutimes(p, h.mtime, h.mtime);
        result.symlinks++;
        break;
      }
      case 'link':
        await hardlink(real, h);
        return;
      case 'character-device':
      case 'block-device': {
        if (opts.devices === 'skip' || !isRootUser || !privateRoot) {
          const why = opts.devices === 'skip' ? 'devices are refused by policy' : !isRootUser ? 'not running as root' : `${R} is reachable by other users`;
          warn(`skipping device ${h.name}: ${why}`);
          result.skipped++;
          return;
        }
        await prepare(real, false);
        await mknod(p, [h.type === 'character-device' ? 'c' : 'b', String(h.devmajor ?? 0), String(h.devminor ?? 0)]);
        await finishSpecial(p, h);
        result.devices++;
        break;
      }
      case 'fifo': {
        await prepare(real, false);
        await mknod(p, ['p']);
        await finishSpecial(p, h);
        result.fifos++;
        break;
      }
    }
    markWritten(real);
  };

  const finishSpecial = async (p: string, h: TarHeader): Promise<void> => {
    await setOwner(p, h);
    const st = await lstat(p);
    if (st.isSymbolicLink()) throw new SkiffError('EUNSAFE', `${p} became a symlink`);
    await chmod(p, permBits(h.mode, h.name));
    await setXattrs(p, h);
    await lutimes(p, h.mtime, h.mtime);
  };

  /** True when every component of `comps` is a real directory (no symlink crept in). */
  const isRealDir = async (comps: string[]): Promise<boolean> => {
    for (let i = 1; i <= comps.length; i++) {
      const st = await lstatOrUndef(abs(comps.slice(0, i)));
      if (!st || !st.isDirectory()) return false;
    }
    return true;
  };

  for await (const { header, body } of readTar(tarStream, opts)) {
    throwIfAborted(opts.signal);
    if (++result.entries > limits.maxEntries) {
      throw new SkiffError('ELIMIT', `layer has more than ${limits.maxEntries} entries`, { hint: 'raise the entry limit if this layer is legitimate' });
    }
    await entry(header, body);
  }

  // directory modes and times last: creating children changes a directory's mtime, and a read-only mode
  // would stop us writing into it. Deepest first.
  const metas = [...dirMeta.values()].sort((a, b) => b.comps.length - a.comps.length);
  for (const m of metas) {
    throwIfAborted(opts.signal);
    if (!(await isRealDir(m.comps))) continue; // replaced or removed later in the layer
    let fh;
    try {
      fh = await open(abs(m.comps), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ELOOP' || errno(e) === 'ENOTDIR') continue;
      throw e;
    }
    try {
      await fh.chmod(m.mode);
      await fh.utimes(m.mtime, m.mtime);
    } finally {
      await fh.close();
    }
  }
  return result;
}
