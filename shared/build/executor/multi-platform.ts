/**
 * Multi-platform builds: `--platform a,b[,…]` builds the Dockerfile once per platform (each an ordinary build with
 * that target platform, so TARGETPLATFORM/TARGETARCH/… and `FROM --platform=$BUILDPLATFORM` take per-platform
 * values), up to `jobs` platforms at a time, then lists the images in one OCI image index through the manifest-list
 * code the `manifest` verbs use: every local `-t NAME` names a new index of exactly these images, `--manifest NAME`
 * adds them to the list NAME holds (made when absent; an entry of the same platform replaced), and transport `-t`
 * destinations get the index pushed with every image. Call order: tags and flags checked, every platform's RUN
 * steps checked runnable (binfmt_misc emulation) → builds → lists named → pushes → `--iidfile`. When a platform fails
 * the others are cancelled and no list is named (built images stay unnamed, for gc).
 */
import { writeFile } from 'node:fs/promises';
import { SkiffError } from '../../errors.ts';
import { formatPlatform } from '../../image/platform.ts';
import type { Descriptor, Platform } from '../../oci/types.ts';
import { listBuiltImages, pushList, withStore } from '../../transport/manifest-list.ts';
import { buildImage, checkTags, type BuildResult } from './build.ts';
import { requireEmulationForBuild } from './emulation-check.ts';
import { inlineLocations } from './cache-export.ts';
import { storedImagePlatform } from './base-image.ts';
import { mapLimit } from './pool.ts';
import { createReporter, type BuildReporter } from './report.ts';
import type { BuildOptions, BuildStats } from './types.ts';

/** What a multi-platform build adds to the build options. */
export interface PlatformsOptions {
  /** target platforms, at least one (parsePlatformList) */
  platforms: Platform[];
  /** buildah's `--manifest NAME`: the list the built images are added to */
  manifest?: string;
  /** the progress reporter of one platform's build when several build (default: the build's own reporter) */
  reporterFor?: (platform: string) => BuildReporter;
}

/** How many platforms run at once and how many stages each may run, from `--jobs N` (total stages ≈ N). */
export function platformConcurrency(jobs: number | undefined, platforms: number): { platforms: number; stages: number } {
  const n = Math.max(1, jobs ?? 1);
  const at = Math.max(1, Math.min(n, platforms));
  return { platforms: at, stages: Math.max(1, Math.floor(n / at)) };
}

/**
 * Builds for every platform of `m` and names the index (see the module comment). One platform without
 * `--manifest` is an ordinary build. Returns the index's digest as the ID (a single-platform `--manifest` build, or
 * several platforms with no name at all, return the last image's ID), the names given, and the summed counters.
 */
export async function buildPlatforms(o: BuildOptions, m: PlatformsOptions): Promise<BuildResult> {
  const reporter = o.reporter ?? createReporter('plain');
  if (m.platforms.length === 1) {
    const r = await buildImage({ ...o, platform: m.platforms[0]!, reporter });
    if (m.manifest === undefined) return r;
    await withStore(o.storeRoot, { signal: o.signal }, (s) => listBuiltImages(s, m.manifest!, [r.descriptor], { amend: true, ...(o.signal && { signal: o.signal }) }));
    return { ...r, names: [...r.names, m.manifest] };
  }
  const tags = checkTags(o.tags ?? []);
  if ((o.outputs ?? []).length > 0) throw new SkiffError('EINVALID', '--output cannot be used with several platforms', { hint: 'build one platform per --output, or name the images with -t/--manifest' });
  if (tags.remote.length > 0 && tags.local.length === 0 && m.manifest === undefined) {
    throw new SkiffError('EINVALID', `-t ${tags.remote[0]} with several platforms needs a local name for the list`, { hint: 'add --manifest NAME (or a local -t NAME) next to the destination' });
  }
  await withStore(o.storeRoot, { signal: o.signal }, async (s) => {
    for (const p of m.platforms) await requireEmulationForBuild(o, p, (ref, want) => storedImagePlatform(s, ref, want, { signal: o.signal }));
  });
  // the per-platform builds push nothing themselves: `--cache-to type=inline` goes beside the index's destinations
  const inline = inlineLocations(tags.remote);
  const cache = o.cache && inline.length > 0 ? { ...o.cache, to: o.cache.to.flatMap((d) => (d.location.type === 'inline' ? inline.map((location) => ({ ...d, location })) : [d])) } : o.cache;
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const c = platformConcurrency(o.jobs, m.platforms.length);
  const results = await mapLimit(m.platforms, c.platforms, async (p) => {
    const pf = formatPlatform(p);
    try {
      return await buildImage({ ...o, platform: p, tags: [], outputs: [], iidfile: undefined, jobs: c.stages, reporter: m.reporterFor?.(pf) ?? reporter, signal, ...(cache && { cache }) });
    } catch (e) {
      stop.abort(e);
      throw e;
    }
  });
  const images: Descriptor[] = results.map((r) => r.descriptor);
  const so = { signal };
  const names: string[] = [];
  let list: Descriptor | undefined;
  await withStore(o.storeRoot, so, async (s) => {
    for (const t of tags.local) {
      list = await listBuiltImages(s, t, images, so);
      names.push(t);
    }
    if (m.manifest !== undefined) {
      list = await listBuiltImages(s, m.manifest, images, { amend: true, ...so });
      names.push(m.manifest);
    }
    const from = tags.local[0] ?? m.manifest;
    for (const t of tags.remote) {
      await pushList(s, from!, t, { storeRoot: o.storeRoot, registry: o.registry ?? {}, signal }, { all: true, ...(o.format && { format: o.format }), signal });
      names.push(t);
    }
  });
  const stats: BuildStats = { runs: 0, copies: 0, cacheHits: 0, layers: 0, filesHashed: 0 };
  for (const r of results) for (const k of Object.keys(stats) as (keyof BuildStats)[]) stats[k] += r.stats[k];
  const last = results.at(-1)!;
  if (list === undefined) reporter.warn('several platforms built without -t or --manifest: their images are stored without a name and no list holds them');
  const id = list?.digest ?? last.id;
  if (o.iidfile) await writeFile(o.iidfile, id);
  return { id, descriptor: list ?? last.descriptor, names, stats };
}
