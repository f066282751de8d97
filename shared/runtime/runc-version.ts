/** runc's `--version` output, parsed. */
export interface RuncVersion {
  /** the version as printed (`1.1.5+ds1`, `1.2.8`, `1.0.0-rc92`) */
  version: string;
  commit?: string;
  spec?: string;
}

/** The verdict of the version gate (RU-01). */
export interface RuncVerdict {
  /** 'patched': an upstream release with every listed fix; 'distribution': a distro build (trusted to carry back-ports); 'old': missing fixes */
  status: 'patched' | 'distribution' | 'old' | 'unknown';
  /** CVEs an upstream build of this version lacks (empty for patched/distribution) */
  missing: string[];
  message: string;
}

/** Security fixes runc releases carry: CVE → the first fixed version of each branch (RU-01). */
export const RUNC_FIXES: readonly { cve: string; fixed: readonly string[] }[] = [
  { cve: 'CVE-2019-5736', fixed: ['1.0.0-rc7'] },
  { cve: 'CVE-2021-30465', fixed: ['1.0.0-rc95'] },
  { cve: 'CVE-2024-21626', fixed: ['1.1.12'] },
  { cve: 'CVE-2025-31133', fixed: ['1.2.8', '1.3.3', '1.4.0-rc.3'] },
  { cve: 'CVE-2025-52565', fixed: ['1.2.8', '1.3.3', '1.4.0-rc.3'] },
  { cve: 'CVE-2025-52881', fixed: ['1.2.8', '1.3.3', '1.4.0-rc.3'] },
  { cve: 'CVE-2026-41579', fixed: ['1.3.6', '1.4.3', '1.5.0'] },
];

/** Parses `runc --version` text; undefined when it has no `runc version X` line. Pure. */
export function parseRuncVersion(text: string): RuncVersion | undefined {
  const v = /^runc version (\S+)/m.exec(text);
  if (!v) return undefined;
  const c = /^commit: (\S+)/m.exec(text);
  const s = /^spec: (\S+)/m.exec(text);
  return { version: v[1]!, ...(c && { commit: c[1]! }), ...(s && { spec: s[1]! }) };
}

interface SemVer {
  n: [number, number, number];
  pre?: number; // rcN as N; undefined for a release
}

function parseSemver(v: string): SemVer | undefined {
  const m = /^v?([0-9]+)\.([0-9]+)\.([0-9]+)(?:-rc\.?([0-9]+))?/.exec(v);
  if (!m) return undefined;
  return { n: [Number(m[1]), Number(m[2]), Number(m[3])], ...(m[4] !== undefined && { pre: Number(m[4]) }) };
}

function cmp(a: SemVer, b: SemVer): number {
  for (let i = 0; i < 3; i++) if (a.n[i] !== b.n[i]) return a.n[i]! - b.n[i]!;
  if (a.pre === b.pre) return 0;
  if (a.pre === undefined) return 1;
  if (b.pre === undefined) return -1;
  return a.pre - b.pre;
}

function hasFix(v: SemVer, fixed: readonly string[]): boolean {
  const fs = fixed.map((f) => parseSemver(f)!);
  for (const f of fs) if (f.n[0] === v.n[0] && f.n[1] === v.n[1] && cmp(v, f) >= 0) return true;
  const newest = fs.reduce((a, b) => (cmp(a, b) >= 0 ? a : b));
  return cmp(v, newest) >= 0;
}

/**
 * Judges a runc version (RU-01). A version with a `+` build suffix (Debian's `1.1.5+ds1`) or a commit line
 * naming a package revision (`1.1.5+ds1-1+deb12u1`) is a distribution build: distributions back-port fixes
 * without changing the upstream number, so it is accepted with a note. An upstream version is checked against
 * RUNC_FIXES per release branch. Pure; never decides to refuse — see gateRunc.
 */
export function judgeRuncVersion(v: RuncVersion): RuncVerdict {
  const sv = parseSemver(v.version);
  if (!sv) return { status: 'unknown', missing: [], message: `cannot parse runc version ${JSON.stringify(v.version)}` };
  if (v.version.includes('+') || /\+deb|ubuntu|\.el[0-9]|\.fc[0-9]/.test(v.commit ?? '')) {
    return { status: 'distribution', missing: [], message: `runc ${v.version} is a distribution build (${v.commit ?? 'no commit'}); its security fixes are back-ported by the distribution` };
  }
  const missing = RUNC_FIXES.filter((f) => !hasFix(sv, f.fixed)).map((f) => f.cve);
  if (missing.length === 0) return { status: 'patched', missing, message: `runc ${v.version} has every known security fix` };
  return {
    status: 'old',
    missing,
    message: `runc ${v.version} is missing security fixes for ${missing.join(', ')}: containers may escape to the host; upgrade runc`,
  };
}
