import { SkiffError, throwIfAborted } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/types.ts';
import { collectLeasedDigests } from './lease.ts';
import type { Layout } from './layout.ts';
import { withLock } from './lock.ts';
import type { StorePaths } from './paths.ts';
import { walkReachable } from './reachability.ts';
import { cleanStaleTemps } from './session.ts';
import { removeStaleAtomicTemps } from './atomic.ts';

/** What a gc run did. */
export interface GcResult {
  /** Blobs deleted (or, with dryRun, that would be). */
  removed: Digest[];
  bytesFreed: number;
  /** Session ids whose stale temp dirs were removed. */
  tempsRemoved: string[];
  /** Temp files of atomic replacements (`.index.json.<pid>.<rand>.tmp`…) whose writer is gone, removed. */
  tempFilesRemoved: string[];
  /** Leases dropped because their process is gone. */
  leasesDropped: string[];
  /** Referenced blobs that are missing (reported, nothing to do). */
  missing: Digest[];
  /** Invalid descriptors found inside manifests (skipped; they cannot name a stored blob). */
  invalid: string[];
}

/** What gc needs from a store. */
export interface GcContext {
  layout: Layout;
  paths: StorePaths;
  /** The lock writers hold shared while they lease + commit; gc holds it exclusively. */
  gcLockPath: string;
}

/**
 * Mark and sweep (LS-13, LS-14). Under the EXCLUSIVE gc lock:
 *  1. remove temp dirs of dead sessions (their owner lock is free) and temp files of atomic replacements in
 *     images/ and leases/ whose writer pid is gone;
 *  2. read leases (dropping those of dead processes) — BEFORE index.json: a writer tags first and releases
 *     its lease after, so an image whose lease is gone by now is already in the index we read next;
 *  3. mark everything reachable from index.json entries and from leased digests (through indexes,
 *     manifests, subjects and unknown JSON; depth-limited, cycle-safe);
 *  4. delete every `blobs/sha256/<hex>` not marked. Files that are not 64-hex names are never touched.
 * Writers take the same lock SHARED while they record a digest in their lease and check/commit its blob,
 * so a blob is never swept between "it exists, I'll reuse it" and "it is leased".
 * A reachable manifest that cannot be read (damaged) aborts the sweep (EINTEGRITY): its children are
 * unknown and would otherwise be deleted. Depth overflow aborts with ELIMIT.
 */
export async function collectGarbage(ctx: GcContext, o: { signal?: AbortSignal; dryRun?: boolean; wait?: boolean | number } = {}): Promise<GcResult> {
  const so = { signal: o.signal };
  return withLock(ctx.gcLockPath, { ...so, wait: o.wait }, async () => {
    const tempsRemoved = o.dryRun ? [] : await cleanStaleTemps(ctx.paths.tmp, so);
    const tempFilesRemoved: string[] = [];
    for (const d of [ctx.paths.images, ctx.paths.leases]) tempFilesRemoved.push(...(await removeStaleAtomicTemps(d, o.dryRun ? { dryRun: true } : {})));
    const leases = await collectLeasedDigests(ctx.paths, so);
    const blobs = ctx.layout.blobs;
    const roots: Descriptor[] = await ctx.layout.entries(so);
    for (const d of leases.digests) {
      const st = await blobs.stat(d);
      if (st) roots.push({ mediaType: 'application/octet-stream', digest: d, size: st.size });
    }
    const walk = await walkReachable(blobs, roots, so);
    const bad = walk.unreadable[0];
    if (bad) {
      throw new SkiffError('EINTEGRITY', `gc stopped: reachable blob ${bad.digest} is damaged (${bad.error.message}); nothing was deleted`, {
        cause: bad.error,
        hint: 'run `run-tool system check --repair` to remove the damaged image, then pull it again',
      });
    }
    const removed: Digest[] = [];
    let bytesFreed = 0;
    for (const d of await blobs.list(so)) {
      throwIfAborted(o.signal);
      if (walk.reachable.has(d) || leases.digests.has(d)) continue;
      if (o.dryRun) bytesFreed += (await blobs.stat(d))?.size ?? 0;
      else bytesFreed += await blobs.delete(d);
      removed.push(d);
    }
    return {
      removed,
      bytesFreed,
      tempsRemoved,
      tempFilesRemoved,
      leasesDropped: leases.dropped,
      missing: walk.missing.map((m) => m.digest),
      invalid: walk.invalid,
    };
  });
}
