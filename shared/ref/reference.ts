import { SkiffError } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';

/**
 * A parsed image reference exactly as written: `registry` is undefined when the user gave none. Use the
 * normalisation functions below to turn it into a fully-qualified reference.
 */
export interface Reference {
  /** host[:port], as written (no normalisation). */
  registry?: string;
  /** The repository path below the registry, lowercase components joined by `/`. */
  path: string;
  tag?: string;
  digest?: Digest;
}

/** A fully-qualified reference: registry always set, and a tag or a digest (or both) always set. */
export interface QualifiedReference extends Reference {
  registry: string;
}

/** The registry Docker Hub references normalise to. */
export const DOCKER_HUB = 'docker.io';
/** The registry local-only images are tagged under, as buildah and podman do. */
export const LOCAL_REGISTRY = 'localhost';
/** The tag used when a reference has neither tag nor digest. */
export const DEFAULT_TAG = 'latest';
/** The longest name (registry + path) accepted, as distribution's NameTotalLengthMax. */
export const MAX_NAME_LENGTH = 255;

// distribution/reference grammar.
const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT_RE = new RegExp(`^${ALNUM}(?:${SEPARATOR}${ALNUM})*$`);
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HEX64_RE = /^[a-f0-9]{64}$/;

function bad(s: string, why: string): SkiffError {
  const shown = JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);
  return new SkiffError('EINVALID', `invalid image reference ${shown}: ${why}`, {
    hint: 'use [registry[:port]/]repository[:tag][@sha256:…] with a lowercase repository, e.g. docker.io/library/busybox:latest',
  });
}

/** True when `s` is a valid tag (`[\w][\w.-]{0,127}`). */
export function isValidTag(s: string): boolean {
  return TAG_RE.test(s);
}

/** True when `s` is a valid registry host[:port] (domain name, IPv4 or [IPv6], optional port). */
export function isValidRegistry(s: string): boolean {
  return DOMAIN_RE.test(s);
}

/**
 * Parses `[host[:port]/]path[:tag][@sha256:…]` per the distribution reference grammar. The first component is the
 * registry when it contains `.` or `:` or is `localhost`. No defaults are applied. Invalid input is EINVALID with
 * a message naming the offending part. Pure; never does I/O.
 */
export function parseReference(s: string): Reference {
  if (typeof s !== 'string' || s === '') throw bad(String(s), 'it is empty');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      digest = parseDigest(d);
    } catch (e) {
      throw bad(s, (e as Error).message);
    }
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isValidTag(tag)) throw bad(s, `tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (rest === '') throw bad(s, 'the repository name is empty');
  if (rest.length > MAX_NAME_LENGTH) throw bad(s, `the repository name is longer than ${MAX_NAME_LENGTH} characters`);
  let registry: string | undefined;
  let path = rest;
  const first = rest.indexOf('/');
  if (first >= 0) {
    const head = rest.slice(0, first);
    if (head.includes('.') || head.includes(':') || head === LOCAL_REGISTRY) {
      registry = head;
      path = rest.slice(first + 1);
      if (!isValidRegistry(registry)) throw bad(s, `registry ${JSON.stringify(registry)} is not a valid host[:port]`);
    }
  }
  if (path === '') throw bad(s, 'the repository path is empty');
  for (const c of path.split('/')) {
    if (c === '') throw bad(s, 'the repository path has an empty component');
    if (!PATH_COMPONENT_RE.test(c)) {
      const why = c.toLowerCase() !== c && PATH_COMPONENT_RE.test(c.toLowerCase()) ? 'repository name must be lowercase' : 'it must be lowercase letters and digits separated by ".", "_", "__" or "-"';
      throw bad(s, `path component ${JSON.stringify(c)}: ${why}`);
    }
  }
  if (registry === undefined && tag === undefined && digest === undefined && HEX64_RE.test(path)) {
    throw bad(s, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  const r: Reference = { path };
  if (registry !== undefined) r.registry = registry;
  if (tag !== undefined) r.tag = tag;
  if (digest !== undefined) r.digest = digest;
  return r;
}

/** Formats a reference back to its string form (`registry/path:tag@digest`, parts present only). */
export function formatReference(r: Reference): string {
  return `${r.registry === undefined ? '' : `${r.registry}/`}${r.path}${r.tag === undefined ? '' : `:${r.tag}`}${r.digest === undefined ? '' : `@${r.digest}`}`;
}

/** The repository name without tag or digest (`registry/path`, or `path` when unqualified). */
export function repositoryName(r: Reference): string {
  return r.registry === undefined ? r.path : `${r.registry}/${r.path}`;
}

function asRef(r: Reference | string): Reference {
  return typeof r === 'string' ? parseReference(r) : r;
}

/** Canonical spelling of Docker Hub's aliases. */
function canonicalRegistry(host: string): string {
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

/** Qualifies a path under a registry: Docker Hub gets `library/` for single-component paths; default tag. */
export function qualify(r: Reference, registry: string): QualifiedReference {
  const reg = canonicalRegistry(registry);
  const path = reg === DOCKER_HUB && !r.path.includes('/') ? `library/${r.path}` : r.path;
  const q: QualifiedReference = { registry: reg, path };
  if (r.tag !== undefined) q.tag = r.tag;
  else if (r.digest === undefined) q.tag = DEFAULT_TAG;
  if (r.digest !== undefined) q.digest = r.digest;
  return q;
}

/** True when the reference names its registry explicitly. */
export function isQualified(r: Reference | string): boolean {
  return asRef(r).registry !== undefined;
}

/**
 * The Docker pull form, as skopeo's `docker://` reads a name: a qualified reference keeps its registry (Docker
 * Hub aliases canonicalised, `library/` added), a short one goes to docker.io (`busybox` →
 * `docker.io/library/busybox:latest`); default tag `latest`. Short-name resolution through registries.conf is
 * short-name.ts's job.
 */
export function normalizePull(r: Reference | string): QualifiedReference {
  const ref = asRef(r);
  return qualify(ref, ref.registry ?? DOCKER_HUB);
}

/**
 * The local tag form used when the tools name an image they created: no registry → `localhost/NAME`
 * (`app` → `localhost/app:latest`), as buildah and podman do; default tag `latest`.
 */
export function localTagForm(r: Reference | string): QualifiedReference {
  const ref = asRef(r);
  return qualify(ref, ref.registry ?? LOCAL_REGISTRY);
}

/** `list` without repeated names (first occurrence kept, order preserved). Pure. */
export function dedupeReferences(list: QualifiedReference[]): QualifiedReference[] {
  const seen = new Set<string>();
  return list.filter((q) => {
    const k = formatReference(q);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The short display form Docker users know: `docker.io/library/busybox:latest` → `busybox:latest`,
 * `docker.io/user/app:1` → `user/app:1`; other registries unchanged.
 */
export function familiarName(r: Reference | string): string {
  const ref = asRef(r);
  if (ref.registry === undefined || canonicalRegistry(ref.registry) !== DOCKER_HUB) return formatReference(ref);
  const path = ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice('library/'.length) : ref.path;
  const { registry: _r, ...rest } = ref;
  return formatReference({ ...rest, path });
}
