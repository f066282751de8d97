import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { throwIfAborted } from '../errors.ts';
import { compareNames, emitEntries, isPrivateXattr, lstatAll, sortedEntries, TarWriter, type EmitItem, type TreeContext } from './tar-write.ts';
import { readTreeXattrs } from './xattr.ts';

/** Options of the diff generators. */
export interface DiffOptions {
  /** fixed mtime for every entry (reproducible builds) */
  mtime?: Date;
  onWarning?: (msg: string) => void;
  /** diffUpper: called once with every xattr of the upper dir (keyed by absolute path) before entries are written */
  onXattrs?: (xattrs: ReadonlyMap<string, ReadonlyMap<string, Buffer>>) => void;
  /** diffUpper: the upper dir's xattrs as readTreeXattrs(upperDir) returned them, read by the caller (no getfattr run here) */
  xattrs?: Map<string, Map<string, Buffer>>;
  signal?: AbortSignal;
}

const OPAQUE = '.wh..wh..opq';

function isOverlayWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** True when `x` (a directory's xattrs) marks it opaque in overlayfs form (trusted.overlay.opaque or user.overlay.opaque `y`). */
export function isOpaque(x: ReadonlyMap<string, Buffer> | undefined): boolean {
  const v = x?.get('trusted.overlay.opaque') ?? x?.get('user.overlay.opaque');
  return v !== undefined && v.toString() === 'y';
}

function startWriter(opts: DiffOptions, body: (ctx: TreeContext) => Promise<void>, xattrDirs: string[], read?: Map<string, Map<string, Buffer>>): Readable {
  const writer = new TarWriter(opts.mtime ? { mtime: opts.mtime } : {});
  const run = async (): Promise<void> => {
    // xattrs the caller already read are used as they are; else one getfattr run per dir
    const xattrs = new Map<string, Map<string, Buffer>>(read);
    for (const d of read ? [] : xattrDirs) for (const [k, v] of await readTreeXattrs(d, opts)) xattrs.set(k, v);
    const ctx: TreeContext = { writer, links: new Map(), xattrs, onWarning: opts.onWarning ?? (() => {}), signal: opts.signal };
    await body(ctx);
    writer.finish();
  };
  run().catch((e: Error) => writer.destroy(e));
  return writer.stream;
}

/**
 * A layer from an overlayfs upper directory (LA-20): everything in it is archived as it is (symlinks as
 * symlinks, never dereferenced; sockets skipped; hardlinks within the layer as link entries); a char 0/0
 * device becomes `.wh.<name>`; a directory with `trusted.overlay.opaque=y` is followed by
 * `<dir>/.wh..wh..opq`. Deterministic: byte-ordered, each directory before its contents.
 */
export function diffUpper(upperDir: string, opts: DiffOptions = {}): Readable {
  return startWriter(
    opts,
    async (ctx) => {
      const items: EmitItem[] = [];
      const walk = async (dir: string, prefix: string): Promise<void> => {
        throwIfAborted(opts.signal);
        const names = await sortedEntries(dir);
        const paths = names.map((n) => join(dir, n));
        const stats = await lstatAll(paths);
        for (let i = 0; i < names.length; i++) {
          const n = names[i]!;
          const p = paths[i]!;
          const st = stats[i]!;
          if (isOverlayWhiteout(st)) {
            items.push({ kind: 'whiteout', name: `${prefix}.wh.${n}`, mtime: st.mtime });
            continue;
          }
          items.push({ kind: 'path', abs: p, name: prefix + n, st });
          if (st.isDirectory()) {
            if (isOpaque(ctx.xattrs.get(p))) items.push({ kind: 'whiteout', name: `${prefix}${n}/${OPAQUE}`, mtime: st.mtime });
            await walk(p, `${prefix}${n}/`);
          }
        }
      };
      await walk(upperDir, '');
      opts.onXattrs?.(ctx.xattrs);
      await emitEntries(ctx, items);
    },
    [upperDir],
    opts.xattrs,
  );
}

function sameXattrs(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): boolean {
  const fa = [...(a ?? new Map<string, Buffer>())].filter(([k]) => !isPrivateXattr(k));
  const fb = [...(b ?? new Map<string, Buffer>())].filter(([k]) => !isPrivateXattr(k));
  if (fa.length !== fb.length) return false;
  const mb = new Map(fb);
  return fa.every(([k, v]) => mb.get(k)?.equals(v) === true);
}

type Item = EmitItem;

/**
 * A layer as the difference between two trees (fallback when no overlay upper dir exists): entries for
 * paths added or changed in `newDir` (type, mode, owner, size, mtime, symlink target, device, xattrs), a
 * `.wh.<name>` for each path of `lowerDir` gone from `newDir`, and the parent directories of every change
 * so their metadata survives. Never dereferences, skips sockets, emits hardlinks within the layer as
 * links. Deterministic as diffUpper. Both trees must not change while the stream is read.
 */
export function diffTrees(lowerDir: string, newDir: string, opts: DiffOptions = {}): Readable {
  return startWriter(
    opts,
    async (ctx) => {
      const lowerXattrs = await readTreeXattrs(lowerDir, opts);
      const items: Item[] = [];
      // returns true when something under `rel` changed
      const walk = async (rel: string[], lowerExists: boolean): Promise<boolean> => {
        throwIfAborted(opts.signal);
        const nd = join(newDir, ...rel);
        const ld = join(lowerDir, ...rel);
        const newNames = await readdir(nd);
        const lowerNames = lowerExists ? await readdir(ld) : [];
        const newSet = new Set(newNames);
        const lowerSet = new Set(lowerNames);
        const all = [...new Set([...newNames, ...lowerNames])].sort(compareNames);
        let changed = false;
        for (const n of all) {
          const name = [...rel, n].join('/');
          if (!newSet.has(n)) {
            items.push({ kind: 'whiteout', name: [...rel, `.wh.${n}`].join('/') });
            changed = true;
            continue;
          }
          const np = join(nd, n);
          const nst = await lstat(np);
          const lst = lowerSet.has(n) ? await lstat(join(ld, n)) : undefined;
          const sameType = lst !== undefined && (nst.mode & 0o170000) === (lst.mode & 0o170000);
          if (nst.isDirectory()) {
            const idx = items.length;
            const dirChanged =
              !sameType || nst.mode !== lst!.mode || nst.uid !== lst!.uid || nst.gid !== lst!.gid || !sameXattrs(ctx.xattrs.get(np), lowerXattrs.get(join(ld, n)));
            const inner = await walk([...rel, n], sameType);
            if (dirChanged || inner) {
              items.splice(idx, 0, { kind: 'path', abs: np, name, st: nst });
              changed = true;
            }
            continue;
          }
          let differs = !sameType;
          if (!differs && lst) {
            differs =
              nst.mode !== lst.mode ||
              nst.uid !== lst.uid ||
              nst.gid !== lst.gid ||
              nst.size !== lst.size ||
              nst.mtimeMs !== lst.mtimeMs ||
              nst.rdev !== lst.rdev ||
              !sameXattrs(ctx.xattrs.get(np), lowerXattrs.get(join(ld, n)));
            if (!differs && nst.isSymbolicLink()) differs = (await readlink(np)) !== (await readlink(join(ld, n)));
            if (nst.dev === lst.dev && nst.ino === lst.ino) differs = false;
          }
          if (differs) {
            items.push({ kind: 'path', abs: np, name, st: nst });
            changed = true;
          }
        }
        return changed;
      };
      await walk([], true);
      await emitEntries(ctx, items);
    },
    [newDir],
  );
}
