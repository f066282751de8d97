/**
 * `--cache-to` / `--cache-from` / `--cache-ttl` in both spellings users bring: buildah's (a bare repository,
 * `--cache-from` repeatable) and BuildKit's (`type=registry,ref=REF[,mode=min|max][,compression=gzip]`,
 * `type=local,dest=DIR` / `type=local,src=DIR`, `type=inline`). Pure: one line naming the bad value on error.
 */
import { SkiffError } from '../../errors.ts';
import { parseReference } from '../../ref/reference.ts';
import { parseDuration } from '../../cli/units.ts';
import { csvOptions } from '../../cli/flags.ts';

/** Where remote cache entries live: a registry repository, or an OCI layout directory. */
export type CacheLocation = { type: 'registry'; registry: string; repository: string } | { type: 'local'; dir: string } | { type: 'inline' };

/** One `--cache-to`: where, and which steps (`min`: the stages the image is made of; `max`: every stage). */
export interface CacheExport {
  location: CacheLocation;
  mode: 'min' | 'max';
  /** BuildKit's `ignore-error=true`: a failed export is a warning, not a failed build */
  ignoreError?: boolean;
}

/** The remote-cache part of a build's options. */
export interface CacheOptions {
  from: CacheLocation[];
  to: CacheExport[];
  /** entries whose step was built longer ago than this are not used (buildah's --cache-ttl) */
  ttlMs?: number;
  /** `--cache-mounts`: RUN --mount=type=cache contents are exported and imported too (cache-mounts.ts) */
  mounts?: boolean;
}


function repositoryOf(ref: string, flag: string): CacheLocation {
  let r;
  try {
    r = parseReference(ref);
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(ref)}: ${e instanceof Error ? e.message : String(e)}`, { hint: 'write a repository such as 127.0.0.1:5000/app/cache' });
  }
  if (r.registry === undefined) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(ref)}: name the registry`, { hint: 'write a fully qualified repository such as 127.0.0.1:5000/app/cache' });
  if (r.digest !== undefined) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(ref)}: a cache is a repository, not a digest`, { hint: 'drop the @sha256:… part' });
  return { type: 'registry', registry: r.registry, repository: r.path };
}

/**
 * Parses one `--cache-to` (`side` 'to') or `--cache-from` (`side` 'from') value. A value without `type=` is
 * buildah's repository form; the tag of a BuildKit `ref=` is not used (entries are tagged by step key in that
 * repository).
 */
export function parseCacheFlag(value: string, side: 'to' | 'from'): CacheExport {
  const flag = `--cache-${side}`;
  if (!/(^|,)type=/u.test(value)) {
    if (value.includes('=')) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: missing type=`, { hint: 'write type=registry,ref=REPO, type=local,…, type=inline, or a bare repository' });
    return { location: repositoryOf(value, flag), mode: 'max' };
  }
  const m = csvOptions(value);
  const known = new Set(['type', 'ref', 'mode', 'compression', 'dest', 'src', 'ignore-error', 'oci-mediatypes', 'image-manifest', 'force-compression', 'compression-level']);
  for (const k of m.keys()) if (!known.has(k)) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: unknown attribute ${k}`, { hint: 'attributes: type, ref, mode, compression, dest, src' });
  const mode = m.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: mode must be min or max`);
  const compression = m.get('compression');
  if (compression !== undefined && compression !== 'gzip') {
    throw new SkiffError('EUNSUPPORTED', `${flag} compression=${compression} is not supported: cached layers are exported as built (gzip)`, { hint: 'drop compression= or write compression=gzip' });
  }
  const ie = m.get('ignore-error');
  if (ie !== undefined && ie !== 'true' && ie !== 'false') throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: ignore-error must be true or false`);
  const more = ie === 'true' && side === 'to' ? { ignoreError: true } : {};
  const type = m.get('type');
  if (type === 'registry') {
    const ref = m.get('ref');
    if (!ref) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: type=registry needs ref=`, { hint: 'write type=registry,ref=127.0.0.1:5000/app/cache' });
    return { location: repositoryOf(ref, flag), mode, ...more };
  }
  if (type === 'local') {
    const dir = side === 'to' ? m.get('dest') : m.get('src');
    if (!dir) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: type=local needs ${side === 'to' ? 'dest' : 'src'}=DIR`);
    return { location: { type: 'local', dir }, mode, ...more };
  }
  if (type === 'inline') {
    if (side === 'from') throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: read an inline cache with --cache-from type=registry,ref=IMAGE`);
    return { location: { type: 'inline' }, mode, ...more };
  }
  throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(value)}: unknown type ${JSON.stringify(type)}`, { hint: 'use type=registry, type=local or type=inline' });
}

/** All three flags at once; `--cache-ttl` is a Go duration (`0` or absent: no limit). */
export function parseCacheOptions(to: readonly string[], from: readonly string[], ttl?: string, mounts = false): CacheOptions {
  const ttlMs = ttl === undefined ? 0 : parseDuration(ttl, 'ms');
  return {
    to: to.map((v) => parseCacheFlag(v, 'to')),
    from: from.map((v) => parseCacheFlag(v, 'from').location),
    ...(ttlMs > 0 && { ttlMs }),
    ...(mounts && { mounts }),
  };
}
