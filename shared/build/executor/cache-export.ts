/**
 * `--cache-to` after a successful build: each destination gets the entries of the steps its mode covers (`min`:
 * the stages the image is made of; `max`: every stage). `type=inline` writes the entries beside the image, in the
 * repository of each `docker://` `-t` destination (the image itself is not changed, so its ID is the same with or
 * without the option). A step whose layer is neither in the store nor in the destination (a remote hit this build
 * never needed to fetch) is left out. A failed export fails the build (the image is already written and named), as
 * BuildKit's does, unless the destination says `ignore-error=true`: then it is a warning.
 */
import { isSkiffError, type Cancellable } from '../../errors.ts';
import { parseImageName } from '../../ref/transport-name.ts';
import type { Store } from '../../store/store.ts';
import type { CacheLocation } from '../cache/cache-options.ts';
import { exportCache, type ExportStep } from '../cache/remote-cache.ts';
import type { BuildOptions } from './types.ts';

/** What exportBuildCache needs from the build. */
export interface CacheExportInput extends Cancellable {
  store: Store;
  steps: readonly ExportStep[];
  /** the stages whose layers and config make the image (mode=min exports these) */
  imageStages: ReadonlySet<number>;
  /** the transport-qualified `-t` values (type=inline writes beside their docker:// ones) */
  remoteTags: readonly string[];
  /** with --cache-mounts: the cache mounts the build used (id → directory), exported beside the steps */
  mounts: ReadonlyMap<string, string>;
  warn: (m: string) => void;
}

/** Where `type=inline` writes: the repository of each `docker://` destination among `remoteTags`, in order. Pure. */
export function inlineLocations(remoteTags: readonly string[]): Exclude<CacheLocation, { type: 'inline' }>[] {
  const locs: Exclude<CacheLocation, { type: 'inline' }>[] = [];
  for (const t of remoteTags) {
    const n = parseImageName(t);
    if (n.transport === 'docker' && n.ref.registry !== undefined) locs.push({ type: 'registry', registry: n.ref.registry, repository: n.ref.path });
  }
  return locs;
}

/** Writes the build's cache entries to every `--cache-to` destination of `o`; see the module comment. */
export async function exportBuildCache(o: BuildOptions, p: CacheExportInput): Promise<void> {
  const so = p.signal ? { signal: p.signal } : {};
  for (const dest of o.cache?.to ?? []) {
    const steps = dest.mode === 'max' ? p.steps : p.steps.filter((s) => p.imageStages.has(s.stage));
    let locs: Exclude<CacheLocation, { type: 'inline' }>[];
    if (dest.location.type === 'inline') {
      locs = inlineLocations(p.remoteTags);
      if (locs.length === 0) p.warn('--cache-to type=inline: no -t docker://… destination to write the cache beside; nothing exported');
    } else locs = [dest.location];
    for (const loc of locs) {
      try {
        await exportCache(loc, steps, p.store, o.registry ?? {}, so);
        if (p.mounts.size > 0) await (await import('../cache/cache-mounts.ts')).exportMounts(loc, p.mounts, p.store, o.registry ?? {}, so);
      } catch (e) {
        const where = loc.type === 'local' ? loc.dir : `${loc.registry}/${loc.repository}`;
        if (dest.ignoreError && !p.signal?.aborted) {
          p.warn(`exporting the build cache to ${where} failed (ignore-error=true): ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
        if (isSkiffError(e) && !p.signal?.aborted) e.message = `exporting the build cache to ${where}: ${e.message}`;
        throw e;
      }
    }
  }
}
