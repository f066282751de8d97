// Talking to the service manager that runs a container's unit: `systemctl [--user] restart UNIT`. Which manager
// is recorded when the container is made inside a unit (the manager named by $MANAGERPID runs with --user or not).
import { readFileSync } from 'node:fs';
import { runProgram } from '../../shared/process/run.ts';
import { requireProgram } from '../../shared/process/system-programs.ts';

/** The label naming the unit a container was made in (podman's) and skiff's label naming that unit's manager. */
export const UNIT_LABEL = 'PODMAN_SYSTEMD_UNIT';
export const MANAGER_LABEL = 'io.skiff.systemd-manager';

/**
 * The labels a container made inside a systemd unit gets: the unit's name (from PODMAN_SYSTEMD_UNIT, which the
 * generated units set) and whether its manager is a user manager. Empty outside a unit. Reads /proc.
 */
export function unitLabels(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const unit = env.PODMAN_SYSTEMD_UNIT;
  if (!unit) return {};
  let user = false;
  try {
    user = env.MANAGERPID !== undefined && readFileSync(`/proc/${env.MANAGERPID}/cmdline`, 'utf8').split('\0').includes('--user');
  } catch {
    /* the manager's cmdline is unreadable: assume the system manager */
  }
  return { [UNIT_LABEL]: unit, [MANAGER_LABEL]: user ? 'user' : 'system' };
}

/** Restarts `unit` through systemctl (`--user` for a user manager); resolves with whether it succeeded and systemctl's message. */
export async function restartUnit(unit: string, user: boolean): Promise<{ ok: boolean; message: string }> {
  const r = await runProgram(requireProgram('systemctl'), [...(user ? ['--user'] : []), 'restart', unit]);
  return { ok: r.code === 0, message: r.stderr.trim() || `systemctl exited ${r.code}` };
}
