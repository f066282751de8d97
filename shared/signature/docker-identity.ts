import { SkiffError } from '../errors.ts';
import { DOCKER_HUB, formatReference, parseReference, qualify, type Reference } from '../ref/reference.ts';

/**
 * A docker reference in the normalised form signatures and policies compare: registry always set (docker.io
 * with `library/` for single-component Hub names), tag and digest only as written (no default tag).
 */
export interface NamedIdentity {
  registry: string;
  path: string;
  tag?: string;
  digest?: string;
}

/**
 * Parses and normalises a docker reference as containers/image's ParseNormalizedNamed does (`busybox` →
 * `docker.io/library/busybox`). Invalid input is EINVALID naming `what`. Pure.
 */
export function normalizeNamed(s: string, what = 'docker reference'): NamedIdentity {
  let r: Reference;
  try {
    r = parseReference(s);
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid ${what} ${JSON.stringify(s)}: ${(e as Error).message}`, { cause: e });
  }
  const q = qualify(r, r.registry ?? DOCKER_HUB);
  const n: NamedIdentity = { registry: q.registry, path: q.path };
  if (r.tag !== undefined) n.tag = r.tag;
  if (r.digest !== undefined) n.digest = r.digest;
  return n;
}

/** `registry/path` of a normalised identity. */
export function namedRepository(n: NamedIdentity): string {
  return `${n.registry}/${n.path}`;
}

/** The full string form `registry/path[:tag][@digest]`. */
export function namedString(n: NamedIdentity): string {
  return formatReference(n as Reference);
}

/** True when the identity carries a tag or a digest (what exactReference / matchExact need). */
export function isTaggedOrDigested(n: NamedIdentity): boolean {
  return n.tag !== undefined || n.digest !== undefined;
}
