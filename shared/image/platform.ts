import { SkiffError } from '../errors.ts';
import type { Descriptor, Platform } from '../oci/types.ts';

/**
 * containerd's platforms normalisation, the form platforms are compared in: os lowercased (macos → darwin); arch
 * aliases x86_64/x86-64 → amd64 (variant v1 dropped), aarch64 → arm64 (variant 8/v8/v8.0 dropped, 9/9.0/v9.0 →
 * v9), i386 → 386 (variant dropped), armhf → arm v7, armel → arm v6; arm defaults to v7 and `5`/`6`/`7`/`8` gain
 * their `v`. Node's own names (x64, ia32) and i686/x86 map too, so the host's platform needs no table of its own.
 */
function containerdNormalize(p: Platform): Platform {
  let os = p.os.toLowerCase();
  if (os === 'macos') os = 'darwin';
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (variant === '') variant = undefined;
  switch (arch) {
    case 'i386':
    case 'i686':
    case 'x86':
    case 'ia32':
      arch = '386';
      variant = undefined;
      break;
    case 'x86_64':
    case 'x86-64':
    case 'x64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = undefined;
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = undefined;
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === undefined || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`;
      break;
  }
  const out: Platform = { os, architecture: arch };
  if (variant !== undefined) out.variant = variant;
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = [...p['os.features']];
  if (p.features !== undefined) out.features = [...p.features];
  return out;
}

/**
 * Normalises a platform as containerd does (see containerdNormalize), except that a variant the caller wrote and
 * containerd would drop (arm64 `v8`, amd64 `v1`) is kept, `v`-prefixed, as containers/common's NormalizePlatform
 * keeps it — so `--platform linux/arm64/v8` is recorded and printed as buildah and podman do. Matching
 * (platformScore) compares the containerd form, where such variants are equal to none. Returns a new object.
 */
export function normalizePlatform(p: Platform): Platform {
  const n = containerdNormalize(p);
  const given = p.variant?.toLowerCase();
  if (n.variant === undefined && given) n.variant = /^[0-9]/.test(given) ? `v${given}` : given;
  return n;
}

const PART_RE = /^[A-Za-z0-9_.-]+$/;

/** Parses `os/arch[/variant]` (e.g. `linux/arm64/v8`) and normalises it; anything else is EINVALID. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((x) => PART_RE.test(x))) {
    throw new SkiffError('EINVALID', `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`, { hint: 'e.g. linux/amd64 or linux/arm/v7' });
  }
  const p: Platform = { os: parts[0]!, architecture: parts[1]! };
  if (parts[2] !== undefined) p.variant = parts[2];
  return normalizePlatform(p);
}

/** `os/arch[/variant]` of a platform (normalised first). */
export function formatPlatform(p: Platform): string {
  const n = normalizePlatform(p);
  return `${n.os}/${n.architecture}${n.variant === undefined ? '' : `/${n.variant}`}`;
}

/** The platform of the running host, normalised (Node's process.platform/arch mapped to OCI names). */
export function hostPlatform(): Platform {
  const archMap: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle' };
  const p: Platform = { os: process.platform === 'win32' ? 'windows' : process.platform, architecture: archMap[process.arch] ?? process.arch };
  if (process.arch === 'arm') {
    const v = (process.config.variables as unknown as Record<string, unknown>).arm_version;
    if (typeof v === 'string' || typeof v === 'number') p.variant = `v${v}`;
  }
  return normalizePlatform(p);
}

/** Variants a host of `want` can run, best first (arm v7 also runs v6, v5; amd64 v3 also runs v2, v1). */
function compatibleVariants(arch: string, variant: string | undefined): (string | undefined)[] {
  if (arch === 'arm') {
    const n = Number(variant?.slice(1) ?? '7');
    const out: string[] = [];
    for (let k = n; k >= 5; k--) out.push(`v${k}`);
    return out.length === 0 ? [variant] : out;
  }
  if (arch === 'amd64') {
    const n = variant === undefined ? 1 : Number(variant.slice(1));
    const out: (string | undefined)[] = [];
    for (let k = n; k >= 2; k--) out.push(`v${k}`);
    out.push(undefined);
    return Number.isFinite(n) ? out : [variant];
  }
  return [variant];
}

/**
 * How well a candidate platform serves `want`: 0 is an exact match, higher is a worse but compatible match,
 * undefined means it cannot serve. os and architecture must be equal after normalisation; variants follow
 * compatibleVariants; os.version must be equal when `want` sets it.
 */
export function platformScore(want: Platform, have: Platform): number | undefined {
  const w = containerdNormalize(want);
  const h = containerdNormalize(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return undefined;
  if (w['os.version'] !== undefined && w['os.version'] !== h['os.version']) return undefined;
  // A want without a variant (other than the normalised defaults) accepts any variant of the arch.
  if (want.variant === undefined && w.architecture !== 'arm' && w.architecture !== 'amd64') return 0;
  const ok = compatibleVariants(w.architecture, w.variant);
  const i = ok.indexOf(h.variant);
  if (i >= 0) return i;
  return undefined;
}

/** True when an image for `have` can run where `want` is asked for. */
export function platformMatches(want: Platform, have: Platform): boolean {
  return platformScore(want, have) !== undefined;
}

/**
 * Picks the best manifest for `want` from index entries: entries without a platform (or with os "unknown", such
 * as attestations) are ignored; among matching entries the lowest score wins, ties keep index order.
 * Undefined when nothing matches.
 */
export function selectManifest(entries: readonly Descriptor[], want: Platform): Descriptor | undefined {
  let best: Descriptor | undefined;
  let bestScore = Infinity;
  for (const d of entries) {
    if (d.platform === undefined || d.platform.os === 'unknown') continue;
    const s = platformScore(want, d.platform);
    if (s !== undefined && s < bestScore) {
      best = d;
      bestScore = s;
    }
  }
  return best;
}

/**
 * Parses `--platform` values: each may hold several comma-separated platforms (`linux/amd64,linux/arm64`, as buildah
 * and docker buildx take them); every one is parsed and normalised, duplicates (after normalisation) are dropped
 * keeping the first, order is kept. Throws EINVALID for an empty list or a bad entry.
 */
export function parsePlatformList(values: readonly string[]): Platform[] {
  const out: Platform[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    for (const part of v.split(',')) {
      if (part.trim() === '') throw new SkiffError('EINVALID', `invalid --platform ${JSON.stringify(v)}: empty entry`, { hint: 'separate platforms with commas, e.g. linux/amd64,linux/arm64' });
      const p = parsePlatform(part);
      const k = formatPlatform(p);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(p);
    }
  }
  if (out.length === 0) throw new SkiffError('EINVALID', 'invalid --platform: no platform given', { hint: 'e.g. --platform linux/amd64,linux/arm64' });
  return out;
}
