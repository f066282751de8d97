import { lstat, mkdir } from 'node:fs/promises';
import type { BlobLender } from '../oci/blob-lender.ts';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError, throwIfAborted, type Cancellable } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/types.ts';
import type { BlobStore } from './blob-store.ts';
import { checkImageComplete } from './commit.ts';
import type { BlobRef } from './descriptor.ts';
import { collectGarbage, type GcResult } from './gc.ts';
import { createLease, type Lease } from './lease.ts';
import { openLayout, type Layout } from './layout.ts';
import { withLock } from './lock.ts';
import { checkStoreRoot, storePaths, type StorePaths } from './paths.ts';
import { cleanStaleTemps, dropSession, sessionFor, type Session } from './session.ts';
import { verifyLayout, type VerifyResult } from './verify.ts';

/** Options of openStore. */
export interface OpenStoreOptions {
  /** Create the store (dirs 0700) when it does not exist. Implies write. */
  create?: boolean;
  /** The caller will write: stale temp dirs of dead processes are removed on open. */
  write?: boolean;
  signal?: AbortSignal;
}

const openCount = new Map<string, number>();

/*
 * Race reasoning (LS-13: gc vs writers).
 *
 * Locks: `locks/gc.lock` — writers take it SHARED around "record digest in my lease, then check or commit the
 * blob"; gc takes it EXCLUSIVE for its whole run (temps, leases, mark, sweep). `locks/index.lock` serialises
 * index.json updates; it is never renamed (index.json is replaced by rename, the lock file is not).
 *
 * 1. put(): bytes stream into the writer's private temp dir with no lock held (gc never touches a temp dir
 *    whose session lock is held). Only the commit — lease.add(digest); link into blobs/ — runs under the
 *    shared lock. gc either ran entirely before (nothing to see yet) or runs entirely after (the digest is
 *    leased, so it is kept).
 * 2. claim() (dedup: "is this blob already here?"): lease.add(digest) happens BEFORE the existence check,
 *    both under the shared lock. Without the lock gc could read leases, then the writer adds the digest and
 *    sees the blob, then gc sweeps it: the writer would reference a deleted blob. With it, either gc swept
 *    before (writer sees "absent" and writes it) or the lease is visible to gc.
 * 3. commitImage(): under the shared lock, every referenced digest is added to the lease, checked, and the
 *    image tagged. The lease is released later (close) — after the tag. gc reads leases BEFORE index.json,
 *    so a lease gone by the time gc looks means the tag is already in the index gc reads next.
 * 4. A process that dies: the kernel closes its lock descriptors, so its session lock is free; gc drops its leases
 *    and removes its temp dir. Nothing it had committed but not tagged survives (LS-13, after the writer dies).
 * Shared locks do not exclude each other, so writers never wait for each other here — only for gc.
 */

/**
 * The local store: an OCI layout at `<root>/images` any OCI tool can read, plus skiff's bookkeeping
 * (per-process temp dirs, leases, locks). What the tools call. One Store object per root and process is
 * typical; several are fine (they share the process's session).
 */
export class Store {
  readonly paths: StorePaths;
  readonly layout: Layout;
  readonly session: Session;
  readonly gcLockPath: string;
  #lease: Promise<Lease> | undefined;
  #closed = false;

  /** @internal use openStore */
  constructor(paths: StorePaths, layout: Layout, session: Session) {
    this.paths = paths;
    this.layout = layout;
    this.session = session;
    this.gcLockPath = join(paths.locks, 'gc.lock');
  }

  /** The layout's blob store; its put() is lease-protected (see the race reasoning above). */
  get blobs(): BlobStore {
    return this.layout.blobs;
  }

  /** This process's lease on this store (created on first use; released by close()). */
  lease(o: Cancellable = {}): Promise<Lease> {
    this.#lease ??= createLease(this.paths, [], { owner: `pid ${process.pid}`, ...o }).catch((e) => {
      this.#lease = undefined;
      throw e;
    });
    return this.#lease;
  }

  /** Runs `fn` under the shared gc lock after recording `digests` in this process's lease. */
  async protect<T>(digests: Iterable<string>, fn: () => Promise<T>, o: Cancellable = {}): Promise<T> {
    const lease = await this.lease(o);
    return withLock(this.gcLockPath, { shared: true, signal: o.signal }, async () => {
      await lease.add(digests, o);
      return fn();
    });
  }

  /**
   * Dedup check for writers: leases the digest, then reports whether the blob is committed with that
   * size. When true, the blob is safe from gc until this process's lease ends. Size is a cheap check; the
   * bytes are verified on every read.
   */
  claim(desc: { digest: string; size: number }, o: Cancellable = {}): Promise<boolean> {
    const d = parseDigest(desc.digest);
    return this.protect([d], () => this.blobs.has(d, desc.size, o), o);
  }

  /** Stores a blob (see BlobStore.put), leased to this process until close(). */
  putBlob(body: Readable | Uint8Array | BlobLender, expect?: { digest: string; size: number }, o: Cancellable = {}): Promise<BlobRef> {
    return this.blobs.put(body, expect, o);
  }

  /**
   * Makes an image visible: under the shared gc lock, leases everything `desc` references, checks it all
   * exists (checkImageComplete: LS-19; `mayLack`: the by-reference layers of a manifest list), then tags it
   * `name` — or records it as dangling without a name. Returns the descriptor that previously held the name, if it
   * moved (LS-11).
   */
  async commitImage(desc: Descriptor, o: { name?: string; signal?: AbortSignal; mayLack?: ReadonlySet<string> } = {}): Promise<Descriptor | undefined> {
    const so = { signal: o.signal };
    const co = { ...so, ...(o.mayLack && { mayLack: o.mayLack }) };
    const lease = await this.lease(so);
    return withLock(this.gcLockPath, { shared: true, ...so }, async () => {
      const walk = await checkImageComplete(this.layout, desc, co);
      await lease.add(walk.reachable.keys(), so);
      // Re-check after leasing: gc cannot run now (we hold the shared lock), so this answer stays true.
      await checkImageComplete(this.layout, desc, co);
      if (o.name === undefined) {
        await this.layout.addUnnamed(desc, so);
        return undefined;
      }
      return this.layout.tag(o.name, desc, so);
    });
  }

  /** Garbage-collects blobs, dead leases and stale temp dirs; see collectGarbage. */
  gc(o: { signal?: AbortSignal; dryRun?: boolean; wait?: boolean | number } = {}): Promise<GcResult> {
    return collectGarbage({ layout: this.layout, paths: this.paths, gcLockPath: this.gcLockPath }, o);
  }

  /** Re-hashes every blob and checks references; reports, never deletes. */
  verify(o: Cancellable = {}): Promise<VerifyResult> {
    return verifyLayout(this.layout, o);
  }

  /** Releases this process's lease and, when no other Store of this root is open, its session. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#lease) await (await this.#lease.catch(() => undefined))?.release();
    const n = (openCount.get(this.paths.tmp) ?? 1) - 1;
    if (n > 0) openCount.set(this.paths.tmp, n);
    else {
      openCount.delete(this.paths.tmp);
      await this.session.close();
      dropSession(this.paths.tmp);
    }
  }
}

/**
 * Opens the store at `root` (ENOTFOUND when absent unless `create`). With create, the root and its parts are
 * made 0700 and an empty layout is written. Opening for writing removes temp dirs of dead processes (LS-01).
 */
export async function openStore(root: string, o: OpenStoreOptions = {}): Promise<Store> {
  throwIfAborted(o.signal);
  const paths = storePaths(root);
  checkStoreRoot(paths.root);
  const so = { signal: o.signal };
  if (o.create) {
    for (const d of [paths.root, paths.tmp, paths.leases, paths.locks]) await mkdir(d, { recursive: true, mode: 0o700 });
  } else {
    const st = await lstat(paths.images).catch(() => undefined);
    if (!st) throw new SkiffError('ENOTFOUND', `no skiff store at ${paths.root}`, { hint: 'pull or build an image first, or pass the right --root' });
    await mkdir(paths.locks, { recursive: true, mode: 0o700 });
  }
  let store: Store | undefined;
  const layout = await openLayout(paths.images, {
    create: o.create === true,
    lockPath: join(paths.locks, 'index.lock'),
    tmpRoot: paths.tmp,
    guard: (digest: Digest, commit, go) => store!.protect([digest], commit, go),
    ...so,
  });
  store = new Store(paths, layout, sessionFor(paths.tmp));
  openCount.set(paths.tmp, (openCount.get(paths.tmp) ?? 0) + 1);
  if (o.create || o.write) await cleanStaleTemps(paths.tmp, { ...so, keep: new Set([store.session.id]) });
  return store;
}
