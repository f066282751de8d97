/**
 * A working container root for one RUN/COPY/ADD step: the stage's unpacked layers stacked with overlayfs under a
 * fresh upper dir (a runtime bundle inside the build's state dir, so a crash is cleaned up — BU-17). After the step,
 * the upper dir IS the step's change set: mount stubs the runtime created (mount targets that did not exist) are
 * removed, and the rest becomes the layer through diffUpper (whiteouts and opaque dirs converted to OCI form).
 */
import { constants, type Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import type { Digest } from '../../oci/digest.ts';
import { createBundle, teardownBundle, type Bundle } from '../../runtime/bundle.ts';
import type { SpecMount } from '../../runtime/types.ts';
import { adoptDir, chainIDs, unmount } from '../../layer/unpack-cache.ts';
import { diffUpper, isOpaque } from '../../layer/diff.ts';
import { readTreeXattrs } from '../../layer/xattr.ts';
import type { Store } from '../../store/store.ts';
import type { BuildDir } from './build-dir.ts';
import { storeTarLayer, type StageLayer } from './layers.ts';
import { unpackSettings } from '../../runtime/layer-cache.ts';
import type { Cancellable } from '../../errors.ts';

interface StubRecord {
  /** container paths that did not exist before the step, top-most first; the last is the mount target itself */
  missing: string[];
  /** what the runtime makes at the mount target: a directory, or an empty file for a bind of a file */
  kind: 'dir' | 'file';
  /** existing ancestors (deepest first) with their metadata before the step */
  ancestors: { path: string; mode: number; uid: number; gid: number }[];
}

/** A mounted working root; see the module comment. */
export class WorkingRoot {
  readonly bundle: Bundle;
  /** the lower dirs given to open (bottom→top; empty for an empty root) */
  readonly #lowers: readonly string[];
  #stubs: StubRecord[] = [];
  #mounted = true;

  private constructor(bundle: Bundle, lowers: readonly string[]) {
    this.bundle = bundle;
    this.#lowers = [...lowers];
  }

  /** Mounts `lowers` (bottom→top; none for an empty root) under a fresh upper dir in the build's state dir. */
  static async open(bd: BuildDir, lowers: readonly string[], o: Cancellable = {}): Promise<WorkingRoot> {
    let ls = lowers;
    if (ls.length === 0) {
      const empty = join(bd.dir, 'empty');
      await mkdir(empty, { recursive: true, mode: 0o755 });
      ls = [empty];
    }
    const wr = new WorkingRoot(await createBundle(bd.path('b'), ls, o), lowers);
    // overlayfs gives the merged root the upper dir's attributes (0700 from the bundle): use the image's root's
    const top = await lstat(ls[ls.length - 1]!);
    await chmod(wr.rootfs, lowers.length === 0 ? 0o755 : top.mode & 0o7777);
    await chown(wr.rootfs, lowers.length === 0 ? 0 : top.uid, lowers.length === 0 ? 0 : top.gid);
    return wr;
  }

  get rootfs(): string {
    return this.bundle.rootfs;
  }

  /**
   * Remembers which of these mount targets do not exist yet, so the stubs the runtime creates for them are not
   * captured in the layer. A bind of a non-directory source gets a file stub; every other target a directory.
   * Call before the container starts.
   */
  async noteMountTargets(mounts: readonly Pick<SpecMount, 'destination' | 'type' | 'source'>[]): Promise<void> {
    for (const m of mounts) {
      const parts = posix.normalize(m.destination).split('/').filter((c) => c !== '');
      const ancestors: StubRecord['ancestors'] = [{ path: '/', mode: 0, uid: 0, gid: 0 }];
      let cur = '';
      let rec: StubRecord | undefined;
      for (let i = 0; i < parts.length; i++) {
        cur += `/${parts[i]}`;
        const st = await lstat(join(this.rootfs, cur)).catch(() => undefined);
        if (st === undefined) {
          const missing: string[] = [];
          let p = cur;
          missing.push(p);
          for (let j = i + 1; j < parts.length; j++) missing.push((p += `/${parts[j]}`));
          const fileBind = m.type === 'bind' && m.source !== undefined && (await stat(m.source).then((s) => !s.isDirectory(), () => false));
          rec = { missing, kind: fileBind ? 'file' : 'dir', ancestors: ancestors.slice(1).reverse() };
          break;
        }
        if (!st.isDirectory()) break; // a symlink or file on the way: the runtime resolves it; leave it alone
        ancestors.push({ path: cur, mode: st.mode, uid: st.uid, gid: st.gid });
      }
      if (rec) this.#stubs.push(rec);
    }
  }

  /** Unmounts the root (the upper dir stays). Idempotent. */
  async unmount(): Promise<void> {
    if (!this.#mounted) return;
    await unmount(this.rootfs).catch(() => unmount(this.rootfs, { lazy: true }));
    this.#mounted = false;
  }

  /**
   * Removes the mount stubs noted for the step from the (unmounted) upper dir, deepest first, then the ancestors the
   * stubs made overlayfs copy up, when they are unchanged and empty. The RUN could have moved a stub's parent away
   * and put a symbolic link to a host directory in its place (`mv /a /a.old && ln -s /host /a`): each path is
   * re-resolved inside the upper dir one component at a time without following any link (a link or non-directory
   * on the way ends the cleanup of that stub), and a stub is removed only while it is still what the runtime made —
   * an empty directory (not opaque) or an empty regular file — through a verified handle on its parent, never by a
   * path the RUN could redirect. What the RUN moved or replaced stays in the layer as the RUN left it; the build
   * goes on (buildah and BuildKit do the same: the RUN's own changes are its layer).
   */
  async #removeStubs(xattrs: Map<string, Map<string, Buffer>>): Promise<void> {
    const upper = this.bundle.upper;
    const stub = (want: 'dir' | 'file') => (st: Stats, host: string, plain: string) => isStub(st, host, want, xattrs.get(plain));
    // what is removed leaves the xattr map too (the layer and the adopted dir are read from it)
    const remove = async (p: string, ok: (st: Stats, host: string, plain: string) => Promise<boolean>) => {
      const plain = await removeInside(upper, p, ok);
      if (plain !== undefined) xattrs.delete(plain);
      return plain !== undefined;
    };
    for (const rec of this.#stubs) {
      let removedTop = true;
      for (let i = rec.missing.length - 1; i >= 0; i--) {
        const want = i === rec.missing.length - 1 ? rec.kind : 'dir';
        if (!(await remove(rec.missing[i]!, stub(want)))) {
          removedTop = false;
          break;
        }
      }
      if (!removedTop) continue;
      for (const a of rec.ancestors) {
        const unchanged = async (st: Stats, host: string, plain: string) => st.isDirectory() && st.mode === a.mode && st.uid === a.uid && st.gid === a.gid && (await stub('dir')(st, host, plain));
        if (!(await remove(a.path, unchanged))) break;
      }
    }
  }

  /**
   * Unmounts, drops mount stubs, and stores the upper dir as a gzip layer; undefined when the step changed
   * nothing. `mtime` fixes every entry's time (reproducible builds).
   */
  async commitLayer(store: Store, o: { mtime?: Date; signal?: AbortSignal; onWarning?: (m: string) => void; adopt?: boolean } = {}): Promise<StageLayer | undefined> {
    await this.unmount();
    // With mount stubs to drop: the upper tree's xattrs are read once, before they go — the stubs' opaque test and
    // the layer (and the adopted dir's clean-up) all use that one getfattr run.
    const read = this.#stubs.length > 0 ? await readTreeXattrs(this.bundle.upper, o) : undefined;
    if (read) await this.#removeStubs(read);
    if ((await readdir(this.bundle.upper)).length === 0) return undefined;
    let warned = false;
    let xattrs: ReadonlyMap<string, ReadonlyMap<string, Buffer>> | undefined;
    const tar = diffUpper(this.bundle.upper, {
      mtime: o.mtime,
      onWarning: (m) => {
        warned = true;
        o.onWarning?.(m);
      },
      onXattrs: (x) => (xattrs = x),
      ...(read && { xattrs: read }),
      signal: o.signal,
    });
    const layer = await storeTarLayer(store, tar, o.signal ? { signal: o.signal } : {});
    // The upper dir is the layer in overlay form: adopt it as the unpacked-cache entry so the next step's overlay
    // stacks it without unpacking the blob again. Not when entries were skipped (sockets: the dir holds more than
    // the layer) or when every entry carries a fixed mtime (the dir's own times differ from the layer's).
    if (o.adopt !== false && !warned && o.mtime === undefined && xattrs !== undefined) {
      await this.#adopt(store, layer.diffId, xattrs, o.signal).catch((e: unknown) => {
        if (o.signal?.aborted) throw e;
      });
    }
    return layer;
  }

  /** Renames the upper dir into the unpacked-layer cache under the chain ID of lowers + `diffId`; see adoptDir. */
  async #adopt(store: Store, diffId: Digest, xattrs: ReadonlyMap<string, ReadonlyMap<string, Buffer>>, signal?: AbortSignal): Promise<boolean> {
    const cache = await realpath(unpackSettings(store.paths.overlay).cacheDir).catch(() => undefined);
    if (cache === undefined) return false;
    let parent: Digest | undefined;
    const top = this.#lowers[this.#lowers.length - 1];
    if (top !== undefined) {
      // a stage's lowers come from ensureUnpacked: <cache>/<chainhex>/diff, the top one naming the whole stack
      const entry = dirname(resolve(top));
      if (basename(resolve(top)) !== 'diff' || dirname(entry) !== cache || !/^[0-9a-f]{64}$/.test(basename(entry))) return false;
      parent = `sha256:${basename(entry)}` as Digest;
    }
    const chain = parent === undefined ? diffId : chainIDs([parent, diffId])[1]!;
    return adoptDir(cache, chain, this.bundle.upper, { xattrs, signal });
  }

  /** Unmounts and removes the bundle. Idempotent. */
  async close(): Promise<void> {
    this.#mounted = false;
    await teardownBundle(this.bundle.dir);
  }
}

/**
 * True when `st` (at `host`, with xattrs `x`) is still an untouched runtime stub of `kind`: an empty, non-opaque dir
 * or an empty file.
 */
async function isStub(st: Stats, host: string, kind: 'dir' | 'file', x: ReadonlyMap<string, Buffer> | undefined): Promise<boolean> {
  if (kind === 'file') return st.isFile() && st.size === 0;
  return st.isDirectory() && (await readdir(host)).length === 0 && !isOpaque(x);
}

/**
 * Removes container path `p` from `root` (an upper dir nothing else writes to) when `ok` accepts it, never leaving
 * `root`: the parent is reached one component at a time with lstat (a symbolic link or non-directory on the way
 * means "not ours": nothing is removed), opened O_NOFOLLOW|O_DIRECTORY and checked to be the directory the walk saw
 * (same device and inode); the entry is then examined and removed through that handle's /proc/<pid>/fd path, so no
 * rename or link made in between can redirect the removal. `ok` also gets the entry's path as the walk reached it
 * (the key of readTreeXattrs(root)). Returns that path when `p` was removed, else undefined.
 */
async function removeInside(root: string, p: string, ok: (st: Stats, host: string, plain: string) => Promise<boolean>): Promise<string | undefined> {
  const parts = posix.normalize(`/${p}`).split('/').filter((c) => c !== '' && c !== '.' && c !== '..');
  const name = parts.pop();
  if (name === undefined) return undefined;
  let parent = root;
  let pst = await lstat(parent).catch(() => undefined);
  for (const c of parts) {
    parent = join(parent, c);
    pst = await lstat(parent).catch(() => undefined);
    if (pst === undefined || !pst.isDirectory()) return undefined;
  }
  if (pst === undefined || !pst.isDirectory()) return undefined;
  const fh = await open(parent, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const held = await fh.stat();
    if (held.dev !== pst.dev || held.ino !== pst.ino) return undefined;
    const host = `/proc/${process.pid}/fd/${fh.fd}/${name}`;
    const st = await lstat(host).catch(() => undefined);
    if (st === undefined || st.dev !== held.dev || !(await ok(st, host, join(parent, name)))) return undefined;
    if (st.isDirectory()) await rmdir(host);
    else await unlink(host);
    return join(parent, name);
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

