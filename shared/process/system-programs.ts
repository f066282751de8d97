import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SkiffError } from '../errors.ts';
import table from './system-programs.json' with { type: 'json' };

/** Who needs a system program: README's example, the tools at run time, the tests and the peers they drive. */
export type ProgramPurpose = 'example' | 'run' | 'test';

/** One row of the list of system programs skiff spawns. */
export interface SystemProgram {
  /** the Debian package that provides it */
  package: string;
  needs: readonly ProgramPurpose[];
  /** directories searched before PATH (Debian keeps podman's helpers off PATH) */
  dirs?: readonly string[];
}

/**
 * The one list of system programs that skiff and its tests spawn, with the Debian package of each. Every program
 * the code spawns is on it (a test checks the code against it); scripts/ensure-system-deps.sh installs from it.
 *
 * Why each is spawned rather than done in Node: Node has no API for extended attributes (getfattr/setfattr),
 * mknod(2) (mknod), or namespaces and mounts (unshare, nsenter, mount); xz and bzip2 archives
 * for ADD have no decoder in node:zlib and are rare enough not to justify a bundled one; runc, conmon, netavark,
 * aardvark-dns, pasta, catatonit and newuidmap are the runtime's parts, shared with podman.
 */
export const SYSTEM_PROGRAMS: Readonly<Record<string, SystemProgram>> = table.programs as Record<string, SystemProgram>;

const FALLBACK_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The environment variable that names an explicit path for `name` (`SKIFF_RUNC`, `SKIFF_AARDVARK_DNS`, …). */
export function overrideVariable(name: string): string {
  return `SKIFF_${name.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * Where `name` is: its `SKIFF_<NAME>` override when set, else the first executable in the list's directories for
 * it, PATH, then the usual bin and sbin directories; undefined when none. Reads only file modes.
 */
export function locateProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env[overrideVariable(name)];
  if (override) return override;
  const dirs = [...(SYSTEM_PROGRAMS[name]?.dirs ?? []), ...(env.PATH ?? '').split(delimiter).filter(Boolean), ...FALLBACK_DIRS];
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** The ENODEP error for a missing program: one line naming it, and a hint naming the Debian package to install. */
export function notInstalled(name: string): SkiffError {
  const pkg = SYSTEM_PROGRAMS[name]?.package;
  return new SkiffError('ENODEP', `${name} is not installed`, {
    hint: pkg ? `install the ${pkg} package (as root: apt-get install ${pkg})` : `install the package that provides ${name}`,
  });
}

/** Like locateProgram, but a missing program is the ENODEP error of notInstalled. */
export function requireProgram(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const at = locateProgram(name, env);
  if (at === undefined) throw notInstalled(name);
  return at;
}
