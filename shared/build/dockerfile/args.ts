/**
 * ARG semantics (BuildKit's): ARGs before the first FROM are global (usable in FROM lines, re-declared inside a
 * stage to be used there); per-stage ARGs with defaults; `--build-arg` overrides only declared ARGs; proxy args are
 * usable without declaration in RUN's environment and never enter history; automatic platform args. ARG values are
 * never written to the config's Env. Pure: no I/O.
 */
import { SkiffError } from '../../errors.ts';
import { formatPlatform, normalizePlatform } from '../../image/platform.ts';
import type { Platform } from '../../oci/types.ts';

/** Predefined proxy args: usable without an ARG line, given to RUN, kept out of history and cache keys' history. */
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy',
  'ALL_PROXY', 'all_proxy',
]);

/** Names of the automatic platform args. */
export const PLATFORM_ARGS: readonly string[] = [
  'TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT',
];

/** The automatic platform args for a target and build platform (both normalised first, as BuildKit does). */
export function platformArgs(targetIn: Platform, buildIn: Platform): Map<string, string> {
  const target = normalizePlatform(targetIn);
  const build = normalizePlatform(buildIn);
  return new Map([
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

/**
 * Parses a `--build-arg-file`: `KEY=VALUE` per line, `#` comments and blank lines skipped, `KEY` alone takes the
 * value from `env` (skipped when unset), as buildah.
 */
export function parseBuildArgFile(text: string, env: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/u)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq === 0) throw new SkiffError('EINVALID', `invalid build arg "${line}": empty name`);
    if (eq < 0) {
      const v = env[line];
      if (v !== undefined) out[line] = v;
    } else out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** Parses `--build-arg K=V` values (a bare `K` takes its value from `env`, skipped when unset). */
export function parseBuildArgs(list: readonly string[], env: Record<string, string | undefined> = {}): Record<string, string> {
  return parseBuildArgFile(list.join('\n'), env);
}

/**
 * buildah's warning for build args nobody declared: `[Warning] one or more build args were not consumed: [A B]`,
 * or undefined when all were consumed. Proxy args never warn.
 */
export function unusedBuildArgsWarning(unused: readonly string[]): string | undefined {
  if (unused.length === 0) return undefined;
  return `[Warning] one or more build args were not consumed: [${[...unused].sort().join(' ')}]`;
}
