/**
 * Short-name resolution as containers/image's `pkg/shortnames` and podman's libimage define it, without I/O:
 * which stored names to try for a short name (alias, `localhost/`, each unqualified-search registry, docker.io),
 * which stored names match it by repository suffix, and which registries a pull tries (an alias, else every
 * search registry; none configured is an error naming registries.conf). skiff never prompts: it acts as podman
 * does without a TTY (`permissive` and `disabled` try every candidate, `enforcing` refuses an ambiguous name).
 */
import { SkiffError } from '../errors.ts';
import { DEFAULT_TAG, DOCKER_HUB, LOCAL_REGISTRY, dedupeReferences, formatReference, parseReference, qualify, type QualifiedReference, type Reference } from './reference.ts';

/** registries.conf `short-name-mode`. */
export type ShortNameMode = 'enforcing' | 'permissive' | 'disabled';

/** One short-name alias: a qualified repository (no tag, no digest), or '' when a later file reset it. */
export interface ShortNameAlias {
  value: string;
  /** The file that set it (for messages). */
  origin: string;
}

/** What short-name resolution reads from registries.conf (+ drop-ins) and short-name-aliases.conf. */
export interface ShortNameConfig {
  /** `unqualified-search-registries`, in order. */
  searchRegistries: readonly string[];
  /** The file that set the search list (the main registries.conf when none did); undefined when no registries.conf exists. */
  searchOrigin?: string;
  /** Alias name (a short repository, no tag) → alias; short-name-aliases.conf entries win over registries.conf. */
  aliases: Readonly<Record<string, ShortNameAlias>>;
  mode: ShortNameMode;
}

/** The configuration of a machine with no registries.conf at all: no search registries, no aliases, permissive. */
export const NO_SHORT_NAME_CONFIG: ShortNameConfig = { searchRegistries: [], aliases: {}, mode: 'permissive' };

/** Parses a `short-name-mode` value; undefined (unset) means podman's default, `permissive`. EINVALID otherwise. */
export function parseShortNameMode(v: string | undefined, file = 'registries.conf'): ShortNameMode {
  if (v === undefined || v === '') return 'permissive';
  if (v === 'enforcing' || v === 'permissive' || v === 'disabled') return v;
  throw new SkiffError('EINVALID', `invalid short-name mode ${JSON.stringify(v)} in ${file}`, { hint: 'use "enforcing", "permissive" or "disabled" (containers-registries.conf(5))' });
}

/** True when `r` names no registry, so it goes through short-name resolution (`busybox`, `library/busybox:1`). */
export function isShortName(r: Reference): boolean {
  return r.registry === undefined;
}

/** Docker compatibility, as libimage: a name with both tag and digest is looked up by its digest alone. */
function dropTagWhenDigested(r: Reference): Reference {
  if (r.tag === undefined || r.digest === undefined) return r;
  const { tag: _t, ...rest } = r;
  return rest;
}

/** `alias` with the user's tag and digest: the alias value names a repository only. */
function withUserTagDigest(alias: Reference, user: Reference): QualifiedReference {
  const q: Reference = { ...alias, ...(user.tag !== undefined ? { tag: user.tag } : {}), ...(user.digest !== undefined ? { digest: user.digest } : {}) };
  return qualify(q, alias.registry!);
}

/**
 * The alias for short repository `path`, with `user`'s tag/digest, or undefined (none, or reset with '').
 * EINVALID when the alias value is not a qualified repository without tag or digest.
 */
export function resolveAlias(conf: ShortNameConfig, user: Reference): { ref: QualifiedReference; origin: string } | undefined {
  const a = Object.hasOwn(conf.aliases, user.path) ? conf.aliases[user.path] : undefined;
  if (a === undefined || a.value === '') return undefined;
  let v: Reference;
  try {
    v = parseReference(a.value);
  } catch (e) {
    throw new SkiffError('EINVALID', `invalid short-name alias ${JSON.stringify(user.path)} = ${JSON.stringify(a.value)} in ${a.origin}: ${(e as Error).message}`);
  }
  if (v.registry === undefined || v.tag !== undefined || v.digest !== undefined) {
    throw new SkiffError('EINVALID', `invalid short-name alias ${JSON.stringify(user.path)} = ${JSON.stringify(a.value)} in ${a.origin}: it must name a registry and repository, without tag or digest`, {
      hint: 'write aliases as "name" = "registry.example/namespace/name"',
    });
  }
  return { ref: withUserTagDigest(v, user), origin: a.origin };
}

/**
 * The names to try, in order, when looking a name up in the local store (libimage's candidates): a qualified
 * name yields itself (tag `latest` by default); a short name yields its alias (if any), `localhost/NAME`, NAME
 * under each search registry, then the docker.io form (podman keeps it for compatibility). Duplicates removed.
 * A name with both tag and digest keeps only the digest. Pure.
 */
export function localCandidates(input: Reference, conf: ShortNameConfig): QualifiedReference[] {
  const r = dropTagWhenDigested(input);
  if (!isShortName(r)) return [qualify(r, r.registry!)];
  const alias = resolveAlias(conf, r);
  return dedupeReferences([...(alias ? [alias.ref] : []), qualify(r, LOCAL_REGISTRY), ...conf.searchRegistries.map((reg) => qualify(r, reg)), qualify(r, DOCKER_HUB)]);
}

/**
 * True when stored name `stored` (a full `registry/path:tag`) matches short name `short` as podman matches
 * local images: the stored repository equals the short path or ends with `/` + it (`busybox` and
 * `library/busybox` match `127.0.0.1:5000/library/busybox`, `ibrary/busybox` does not), and the tags are equal
 * (`latest` when the short name has none). A qualified or digested `short` never matches. Pure.
 */
export function matchesShortName(stored: Reference, short: Reference): boolean {
  if (!isShortName(short) || short.digest !== undefined) return false;
  if (stored.tag !== (short.tag ?? DEFAULT_TAG)) return false;
  const repo = stored.registry === undefined ? stored.path : `${stored.registry}/${stored.path}`;
  return repo === short.path || repo.endsWith(`/${short.path}`);
}

/** Where a pull of a short name goes, and the line podman prints about it (when it prints one). */
export interface PullResolution {
  /** Qualified names to try in order; never empty. */
  candidates: QualifiedReference[];
  /** `Resolved "x" as an alias (FILE)` / `Resolving "x" using unqualified-search registries (FILE)`. */
  description?: string;
}

/**
 * Resolves a name to pull, as containers/image's shortnames.Resolve does without a TTY: a qualified name is
 * itself; a short name's alias wins; else one candidate per search registry, in order. No search registries
 * and no alias is ENOTFOUND with podman's "short-name … did not resolve" wording; more than one candidate in
 * `enforcing` mode is EINVALID (podman would prompt; skiff never does). Pure.
 */
export function resolvePullName(input: Reference, conf: ShortNameConfig): PullResolution {
  if (!isShortName(input)) return { candidates: [qualify(input, input.registry!)] };
  const shown = formatReference(input);
  const alias = resolveAlias(conf, input);
  if (alias) return { candidates: [alias.ref], description: `Resolved ${JSON.stringify(input.path)} as an alias (${alias.origin})` };
  if (conf.searchRegistries.length === 0) {
    const where = conf.searchOrigin === undefined ? 'no containers-registries.conf(5) was found' : `no unqualified-search registries are defined in ${JSON.stringify(conf.searchOrigin)}`;
    throw new SkiffError('ENOTFOUND', `short-name ${JSON.stringify(shown)} did not resolve to an alias and ${where}`, {
      hint: 'use a fully-qualified name (registry/repository[:tag]), or add unqualified-search-registries or an [aliases] entry to registries.conf',
    });
  }
  const candidates = dedupeReferences(conf.searchRegistries.map((reg) => qualify(input, reg)));
  if (conf.mode === 'enforcing' && candidates.length > 1) {
    throw new SkiffError('EINVALID', 'short-name resolution enforced but cannot prompt without a TTY', {
      hint: `use a fully-qualified name, one of ${candidates.map(formatReference).join(', ')}, or add an [aliases] entry to registries.conf`,
    });
  }
  return { candidates, description: `Resolving ${JSON.stringify(input.path)} using unqualified-search registries (${conf.searchOrigin ?? 'registries.conf'})` };
}
