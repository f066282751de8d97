/**
 * A working container root for one RUN/COPY/ADD step: the stage's unpacked layers stacked with overlayfs under a
 * fresh upper dir (a runtime bundle inside the build's state dir, so a crash is cleaned up — BU-17). After the step,
 * the upper dir IS the step's change set: mount stubs the runtime created (mount targets that did not exist) are
 * removed, and the rest becomes the layer through diffUpper (whiteouts and opaque dirs converted to OCI form).
 */
import { chmod, chown, lstat, mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createBundle, teardownBundle, type Bundle } from '../../shared/runtime/bundle.ts';
import { unmount } from '../../shared/layer/unpack-cache.ts';
import { diffUpper } from '../../shared/layer/diff.ts';
import { getXattrs } from '../../shared/layer/xattr.ts';
import type { Store } from '../../shared/store/store.ts';
import type { BuildDir } from './build-dir.ts';
import { storeTarLayer, type StageLayer } from './layers.ts';

interface StubRecord {
  /** container paths that did not exist before the step, top-most first */
  missing: string[];
  /** existing ancestors (deepest first) with their metadata before the step */
  ancestors: { path: string; mode: number; uid: number; gid: number }[];
}

/** A mounted working root; see the module comment. */
export class WorkingRoot {
  readonly bundle: Bundle;
  #stubs: StubRecord[] = [];
  #mounted = true;

  private constructor(bundle: Bundle) {
    this.bundle = bundle;
  }

  /** Mounts `lowers` (bottom→top; none for an empty root) under a fresh upper dir in the build's state dir. */
  static async open(bd: BuildDir, lowers: readonly string[], o: { signal?: AbortSignal } = {}): Promise<WorkingRoot> {
    let ls = lowers;
    if (ls.length === 0) {
      const empty = join(bd.dir, 'empty');
      await mkdir(empty, { recursive: true, mode: 0o755 });
      ls = [empty];
    }
    const wr = new WorkingRoot(await createBundle(bd.path('b'), ls, o));
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
  async commitLayer(store: Store, o: { mtime?: Date; signal?: AbortSignal; onWarning?: (m: string) => void } = {}): Promise<StageLayer | undefined> {
    await this.unmount();
    await this.#removeStubs();
    if ((await readdir(this.bundle.upper)).length === 0) return undefined;
    const tar = diffUpper(this.bundle.upper, { ...(o.mtime && { mtime: o.mtime }), ...(o.onWarning && { onWarning: o.onWarning }), ...(o.signal && { signal: o.signal }) });
    return storeTarLayer(store, tar, o.signal ? { signal: o.signal } : {});
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
