/**
 * A working container root for one RUN/COPY/ADD step: the stage's unpacked layers stacked with overlayfs under a
 * fresh upper dir (a runtime bundle inside the build's state dir, so a crash is cleaned up — BU-17). After the step,
 * the upper dir IS the step's change set: mount stubs the runtime created (mount targets that did not exist) are
 * removed, and the rest becomes the layer through diffUpper (whiteouts and opaque dirs converted to OCI form).
 */
import { chmod, chown, lstat, mkdir, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve } from 'node:path';
import type { Digest } from '../../shared/oci/digest.ts';
import { createBundle, teardownBundle, type Bundle } from '../../shared/runtime/bundle.ts';
import { adoptDir, chainIDs, unmount } from '../../shared/layer/unpack-cache.ts';
import { diffUpper } from '../../shared/layer/diff.ts';
import { getXattrs } from '../../shared/layer/xattr.ts';
import type { Store } from '../../shared/store/store.ts';
import type { BuildDir } from './build-dir.ts';
import { storeTarLayer, type StageLayer } from './layers.ts';
import { unpackSettings } from '../../shared/runtime/layer-cache.ts';

interface StubRecord {
  /** container paths that did not exist before the step, top-most first */
  missing: string[];
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
  static async open(bd: BuildDir, lowers: readonly string[], o: { signal?: AbortSignal } = {}): Promise<WorkingRoot> {
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
   * Remembers which of these container paths (mount targets) do not exist yet, so the stubs the runtime creates
   * for them are not captured in the layer. Call before the container starts.
   */
  async noteMountTargets(paths: readonly string[]): Promise<void> {
    for (const p of paths) {
      const parts = posix.normalize(p).split('/').filter((c) => c !== '');
      const ancestors: StubRecord['ancestors'] = [{ path: '/', mode: 0, uid: 0, gid: 0 }];
      let cur = '';
      let rec: StubRecord | undefined;
      for (let i = 0; i < parts.length; i++) {
        cur += `/${parts[i]}`;
        const st = await lstat(join(this.rootfs, cur)).catch(() => undefined);
        if (st === undefined) {
          const missing: string[] = [];
          let m = cur;
          missing.push(m);
          for (let j = i + 1; j < parts.length; j++) missing.push((m += `/${parts[j]}`));
          rec = { missing, ancestors: ancestors.slice(1).reverse() };
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

  async #removeStubs(): Promise<void> {
    const upper = this.bundle.upper;
    const isEmptyish = async (p: string): Promise<boolean> => {
      const st = await lstat(p).catch(() => undefined);
      if (st === undefined) return false;
      if (st.isFile()) return st.size === 0;
      if (st.isDirectory()) return (await readdir(p)).length === 0 && !(await isOpaque(p));
      return false;
    };
    for (const rec of this.#stubs) {
      let removedTop = true;
      for (const p of [...rec.missing].reverse()) {
        const host = join(upper, p);
        if (!(await isEmptyish(host))) {
          removedTop = false;
          break;
        }
        await rm(host, { recursive: false, force: true }).catch(() => rmdir(host));
      }
      if (!removedTop) continue;
      for (const a of rec.ancestors) {
        const host = join(upper, a.path);
        const st = await lstat(host).catch(() => undefined);
        if (!st?.isDirectory() || st.mode !== a.mode || st.uid !== a.uid || st.gid !== a.gid) break;
        if (!(await isEmptyish(host))) break;
        await rmdir(host).catch(() => {});
      }
    }
  }

  /**
   * Unmounts, drops mount stubs, and stores the upper dir as a gzip layer; undefined when the step changed
   * nothing. `mtime` fixes every entry's time (reproducible builds).
   */
  async commitLayer(store: Store, o: { mtime?: Date; signal?: AbortSignal; onWarning?: (m: string) => void; adopt?: boolean } = {}): Promise<StageLayer | undefined> {
    await this.unmount();
    await this.#removeStubs();
    if ((await readdir(this.bundle.upper)).length === 0) return undefined;
    let warned = false;
    let xattrs: ReadonlyMap<string, ReadonlyMap<string, Buffer>> | undefined;
    const tar = diffUpper(this.bundle.upper, {
      ...(o.mtime && { mtime: o.mtime }),
      onWarning: (m) => {
        warned = true;
        o.onWarning?.(m);
      },
      onXattrs: (x) => (xattrs = x),
      ...(o.signal && { signal: o.signal }),
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
    return adoptDir(cache, chain, this.bundle.upper, { xattrs, ...(signal && { signal }) });
  }

  /** Unmounts and removes the bundle. Idempotent. */
  async close(): Promise<void> {
    this.#mounted = false;
    await teardownBundle(this.bundle.dir);
  }
}

async function isOpaque(p: string): Promise<boolean> {
  const x = await getXattrs(p).catch(() => new Map<string, Buffer>());
  const v = x.get('trusted.overlay.opaque');
  return v !== undefined && v.toString() === 'y';
}
