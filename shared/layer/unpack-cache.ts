import { randomBytes, randomInt } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, realpath, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, throwIfAborted } from '../errors.ts';
import { digestHex, digestOf, parseDigest, type Digest } from '../oci/digest.ts';
import { acquireLock } from '../store/lock.ts';
import { fsyncDir } from '../store/atomic.ts';
import type { ApplyLimits, ApplyResult } from './apply.ts';
import type { DecompressLimits } from './compression.ts';
import { runProgram } from '../process/run.ts';
import { runningInUserNamespace } from '../process/proc.ts';

// overlay mounting lives in ./overlay-mount.ts (light to load: unmounting needs none of the unpacking code)
export { MOUNT_DATA_MAX, mountOverlay, overlayMountOptions, unmount } from './overlay-mount.ts';

/*
 * The unpacked-layer cache, beside the OCI layout (`storePaths(root).overlay`):
 *
 *   <cache>/<chainhex>/diff    the layer applied onto an empty dir in overlay form (whiteouts are char 0/0
 *                              devices, opaque dirs carry trusted.overlay.opaque=y)
 *   <cache>/<chainhex>/link    the entry's 26-character short name
 *   <cache>/l/<short>          -> ../<chainhex>/diff  (short lowerdir= paths, as containers/storage does)
 *   <cache>/.locks/<chainhex>  lock file of the entry (never renamed or removed)
 *   <cache>/.tmp-<chainhex>-*  an unpack in progress (or the debris of a dead one)
 *
 * Commit protocol: under the entry's exclusive lock, stale temps of that entry are removed, the layer is
 * unpacked into a fresh temp dir (0700, LS-18), the diffID is verified at EOF (LA-17), the unpacked tree is
 * checked to hold exactly the paths and types the layer wrote (LayerApplier.verifyTree: the diffID covers the
 * byte stream, not what a concurrent writer may have done to the tree), the `l/` link is made, and the temp
 * dir is renamed to <chainhex> — the rename is the commit point. An entry exists under its final name only
 * when it is complete and verified; any failure (corrupt gzip, diffID mismatch, limit, abort) removes the
 * temp dir, so nothing half-unpacked is ever found as complete (LS-03). Two processes unpacking the same
 * layer serialise on the lock and the second finds the entry committed. The cache dir is 0700 (LA-18: setuid
 * files and devices inside are unreachable by other users).
 */

/** One layer to ensure: its diffID and a way to open its (possibly compressed) blob, verified by the store. */
export interface CacheLayer {
  diffID: Digest;
  /** The blob's digest, named in errors (a corrupt blob is reported by it). */
  digest?: Digest;
  open(): Promise<Readable>;
}

/** The one-line error for a stored layer blob whose bytes do not hash to its digest. */
function corruptBlob(layer: CacheLayer, cause: SkiffError): SkiffError {
  const what = layer.digest ? `layer blob ${layer.digest}` : `the blob of layer ${layer.diffID}`;
  return new SkiffError('EINTEGRITY', `${what} is corrupt: its content does not match its digest (${cause.message})`, {
    cause,
    hint: 'remove the damaged image with `run-tool system check --repair`, then pull or build it again',
  });
}

/**
 * Why unpacking `layer` failed, truly: a tar or gzip error met mid-stream may be the symptom of a blob whose
 * bytes are not what its digest says — the store's verified read fails only at EOF, after the parser choked.
 * So on any failure the blob is read to its end once more (hashing only); a digest or size mismatch wins
 * over the parse error. Errors that already are that mismatch are reworded the same way.
 */
async function trueCause(layer: CacheLayer, e: unknown, signal?: AbortSignal): Promise<unknown> {
  if (signal?.aborted) return e;
  // the blob stream's own check at EOF names the blob digest (a diffID mismatch names the diffID instead)
  if (e instanceof SkiffError && e.code === 'EINTEGRITY' && layer.digest !== undefined && e.message.includes(layer.digest)) return corruptBlob(layer, e);
  try {
    const rs = await layer.open();
    for await (const _ of rs as AsyncIterable<Buffer>) void _;
  } catch (v) {
    if (v instanceof SkiffError && (v.code === 'EINTEGRITY' || v.code === 'EBADSIZE')) return corruptBlob(layer, v);
  }
  return e;
}

/** Options of ensureUnpacked. */
export interface EnsureOptions {
  signal?: AbortSignal;
  decompressLimits?: DecompressLimits;
  applyLimits?: ApplyLimits;
  devices?: 'create' | 'skip';
  /** chown entries to the archive's ids (applyLayer's default: when running as root) */
  preserveOwnership?: boolean;
  /**
   * translate the archive's ids before chowning (applyLayer's mapIds). The cache dir must be one used only with
   * this same translation: entries record no mapping, so mixing translations in one cache mixes owners.
   */
  mapIds?: { uid: (id: number) => number; gid: (id: number) => number };
  onWarning?: (msg: string) => void;
  /** called after each layer actually unpacked (not for cache hits) */
  onUnpacked?: (chainID: Digest, result: ApplyResult) => void;
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). Pure. */
export function chainIDs(diffIDs: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIDs) {
    const id = parseDigest(d, 'diff_id');
    const prev = out[out.length - 1];
    out.push(prev === undefined ? id : digestOf(`${prev} ${id}`));
  }
  return out;
}

const SHORT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function shortID(): string {
  let s = '';
  for (let i = 0; i < 26; i++) s += SHORT_ALPHABET[randomInt(SHORT_ALPHABET.length)];
  return s;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** The diff dir of a committed entry. */
export function diffDir(cacheDir: string, chainID: Digest): string {
  return join(resolve(cacheDir), digestHex(parseDigest(chainID, 'chain ID')), 'diff');
}

/** True when the entry for `chainID` is committed (complete and verified). */
export async function isUnpacked(cacheDir: string, chainID: Digest): Promise<boolean> {
  const dir = join(resolve(cacheDir), digestHex(parseDigest(chainID, 'chain ID')));
  return (await exists(join(dir, 'diff'))) && (await exists(join(dir, 'link')));
}

async function unpackOne(cache: string, chain: Digest, layer: CacheLayer, lowers: string[], opts: EnsureOptions): Promise<void> {
  const hex = digestHex(chain);
  const final = join(cache, hex);
  if (await isUnpacked(cache, chain)) return;
  const lock = await acquireLock(join(cache, '.locks', hex), opts.signal ? { signal: opts.signal } : {});
  try {
    if (await isUnpacked(cache, chain)) return; // another process committed it while we waited
    // gzip/zstd and the confined removal load only when a layer is unpacked: a warm cache never needs them
    const [{ decompressWithDiffID }, { removePath }] = await Promise.all([import('./compression.ts'), import('./confined-root.ts')]);
    // debris of dead unpacks of this entry: we hold its lock, so nobody is writing them
    for (const n of await readdir(cache)) if (n.startsWith(`.tmp-${hex}-`)) removePath(join(cache, n));
    if (await exists(final)) removePath(final); // incomplete (no link file)
    const tmp = join(cache, `.tmp-${hex}-${randomBytes(6).toString('hex')}`);
    const diff = join(tmp, 'diff');
    // the temp tree is private while it is written (LS-18); the diff root gets a committed entry's 0755 at the end
    await mkdir(tmp, { mode: 0o700 });
    await mkdir(diff, { mode: 0o700 });
    try {
      // the tar reader loads only when a layer is unpacked: a container start on a warm cache never needs it
      const { LayerApplier } = await import('./apply.ts');
      const blob = await layer.open();
      const { stream } = await decompressWithDiffID(blob, {
        expectDiffID: layer.diffID,
        limits: opts.decompressLimits,
        signal: opts.signal,
      });
      stream.on('error', () => {}); // kept in stream.errored, rethrown by the apply
      const applier = await LayerApplier.open(diff, {
        mode: 'overlay',
        // rootless overlay mounts use `userxattr`, so opaque dirs carry user.overlay.opaque there
        opaqueXattr: runningInUserNamespace() ? 'user.overlay.opaque' : 'trusted.overlay.opaque',
        lowerDirs: [...lowers].reverse(),
        devices: opts.devices,
        preserveOwnership: opts.preserveOwnership,
        mapIds: opts.mapIds,
        limits: opts.applyLimits,
        onWarning: opts.onWarning,
        signal: opts.signal,
      });
      let result: ApplyResult;
      try {
        result = await applier.apply(stream);
        // the tar may end before the blob does (padding): read to EOF so the diffID check runs
        await new Promise<void>((res, rej) => {
          if (stream.errored) return rej(stream.errored);
          if (stream.readableEnded) return res();
          stream.once('end', res);
          stream.once('error', rej);
          stream.once('close', () => (stream.errored ? rej(stream.errored) : res()));
          stream.resume();
        });
        if (stream.errored) throw stream.errored;
        // the diffID covers the byte stream, not the tree: commit only a tree that holds what the layer said
        applier.verifyTree();
      } finally {
        applier.close();
      }
      throwIfAborted(opts.signal);
      await chmod(diff, 0o755);
      await commitEntry(cache, hex, tmp, final);
      opts.onUnpacked?.(chain, result);
    } catch (e) {
      removeTemp(removePath, tmp);
      throw await trueCause(layer, e, opts.signal);
    }
  } finally {
    await lock.release();
  }
}

/**
 * Makes sure every layer of an image is unpacked in the cache, bottom to top, each exactly once across
 * processes (per-entry lock), and returns the diff dirs bottom→top. Idempotent; verified (a layer whose
 * uncompressed digest differs from its diffID fails with EINTEGRITY and leaves nothing committed).
 */
export async function ensureUnpacked(cacheDir: string, layers: readonly CacheLayer[], opts: EnsureOptions = {}): Promise<string[]> {
  await mkdir(resolve(cacheDir), { recursive: true, mode: 0o700 });
  const cache = await realpath(resolve(cacheDir)); // lower dirs are compared by real path (hardlink copy-up)
  await chmod(cache, 0o700);
  await mkdir(join(cache, 'l'), { recursive: true, mode: 0o700 });
  await mkdir(join(cache, '.locks'), { recursive: true, mode: 0o700 });
  const chains = chainIDs(layers.map((l) => l.diffID));
  const dirs: string[] = [];
  for (let i = 0; i < layers.length; i++) {
    throwIfAborted(opts.signal);
    await unpackOne(cache, chains[i]!, layers[i]!, dirs, opts);
    dirs.push(diffDir(cache, chains[i]!));
  }
  return dirs;
}

/** Options of adoptDir. */
export interface AdoptOptions {
  signal?: AbortSignal;
  /** overlay-internal xattrs to strip first, keyed by absolute path under `dir` (as diffUpper's onXattrs gives) */
  xattrs?: ReadonlyMap<string, ReadonlyMap<string, Buffer>>;
}

/**
 * Adopts `dir` — an overlay upper dir (or any tree already in overlay form) whose archive was just stored with
 * diffID making `chainID` — as the committed cache entry of `chainID`, by renaming it instead of unpacking the
 * layer again. Follows the commit protocol of unpackOne under the entry's lock: stale temps are removed, `dir`
 * is renamed to `<tmp>/diff`, overlay bookkeeping xattrs (origin, impure, …; not the opaque marker) are stripped,
 * the root gets an unpacked entry's owner and mode, and the rename of the temp to `<chainhex>` commits it, so a
 * half-adopted entry never looks complete and a crash leaves a temp the next unpack of that entry removes.
 * Returns true when adopted; false (and `dir` left in place or removed with the temp) when the entry exists
 * already or `dir` is on another filesystem (EXDEV) — the caller then relies on ensureUnpacked. The caller
 * vouches that `dir` holds exactly the layer and does not change any more.
 */
export async function adoptDir(cacheDir: string, chainID: Digest, dir: string, opts: AdoptOptions = {}): Promise<boolean> {
  const chain = parseDigest(chainID, 'chain ID');
  await mkdir(resolve(cacheDir), { recursive: true, mode: 0o700 });
  const cache = await realpath(resolve(cacheDir));
  await mkdir(join(cache, 'l'), { recursive: true, mode: 0o700 });
  await mkdir(join(cache, '.locks'), { recursive: true, mode: 0o700 });
  const hex = digestHex(chain);
  const final = join(cache, hex);
  if (await isUnpacked(cache, chain)) return false;
  const lock = await acquireLock(join(cache, '.locks', hex), opts.signal ? { signal: opts.signal } : {});
  try {
    if (await isUnpacked(cache, chain)) return false;
    const { removePath } = await import('./confined-root.ts');
    for (const n of await readdir(cache)) if (n.startsWith(`.tmp-${hex}-`)) removePath(join(cache, n));
    if (await exists(final)) removePath(final); // incomplete (no link file)
    const tmp = join(cache, `.tmp-${hex}-${randomBytes(6).toString('hex')}`);
    await mkdir(tmp, { mode: 0o700 });
    const diff = join(tmp, 'diff');
    try {
      await rename(resolve(dir), diff);
    } catch (e) {
      removeTemp(removePath, tmp);
      if ((e as NodeJS.ErrnoException).code === 'EXDEV') return false;
      throw e;
    }
    try {
      const src = resolve(dir);
      // one setfattr per attribute name, naming every path that has it (not one per path and name)
      const byName = new Map<string, string[]>();
      for (const [p, x] of opts.xattrs ?? new Map<string, ReadonlyMap<string, Buffer>>()) {
        const rel = p === src ? '' : p.startsWith(`${src}/`) ? p.slice(src.length + 1) : undefined;
        if (rel === undefined) continue;
        for (const k of x.keys()) {
          if (!(k.startsWith('trusted.overlay.') || k.startsWith('user.overlay.')) || k.endsWith('.opaque')) continue;
          byName.set(k, [...(byName.get(k) ?? []), rel === '' ? diff : join(diff, rel)]);
        }
      }
      for (const [k, paths] of byName) {
        // in batches of at most ~128 KiB of arguments, far below the kernel's limit on an argument list
        for (let i = 0; i < paths.length; ) {
          const batch: string[] = [];
          for (let bytes = 0; i < paths.length && (batch.length === 0 || bytes + paths[i]!.length < 128 * 1024); i++) {
            bytes += paths[i]!.length + 1;
            batch.push(paths[i]!);
          }
          const r = await runProgram('setfattr', ['-h', '-x', k, '--', ...batch], { signal: opts.signal });
          if (r.code !== 0) throw new SkiffError('EIO', `cannot remove xattr ${k} from ${batch.length === 1 ? batch[0] : `${batch.length} paths under ${diff}`}: ${r.stderr.trim()}`);
        }
      }
      // an unpacked entry's diff root is a fresh 0755 dir owned by this process
      await chmod(diff, 0o755);
      if (process.geteuid && process.getegid) await chown(diff, process.geteuid(), process.getegid());
      throwIfAborted(opts.signal);
      await commitEntry(cache, hex, tmp, final);
      return true;
    } catch (e) {
      removeTemp(removePath, tmp);
      throw e;
    }
  } finally {
    await lock.release();
  }
}

/**
 * Removes a temp dir of a failed unpack or adoption, through descriptors (a writer that swapped one of its
 * directories for a symlink must not lead the removal out of it). A failure to remove is left for the next
 * unpack of the entry, which removes stale temps under the lock, so the original error is what the caller sees.
 */
function removeTemp(removePath: (path: string) => void, tmp: string): void {
  try {
    removePath(tmp);
  } catch {
    // left for the next unpack of this entry
  }
}

/**
 * The commit point of a cache entry: write its short link name, make the `l/` link, fsync, then rename the temp
 * dir to its final name — before the rename the entry is not complete; a failed rename removes the link.
 */
async function commitEntry(cache: string, hex: string, tmp: string, final: string): Promise<void> {
  const short = shortID();
  await writeFile(join(tmp, 'link'), short, { mode: 0o644 });
  const l = join(cache, 'l', short);
  await symlink(`../${hex}/diff`, l);
  try {
    await fsyncDir(tmp);
    await rename(tmp, final);
  } catch (e) {
    await unlink(l).catch(() => {});
    throw e;
  }
  await fsyncDir(cache);
}
