import { runningInUserNamespace } from '../process/proc.ts';

/*
 * The marker of skiff's rootless user namespace (see userns.ts for how the namespace is made): the environment
 * variable SKIFF_USERNS="<host uid>:<host gid>:<full|single>" tells the re-executed process (and everything it
 * starts: conmon's exit command, health-check timers) that it runs inside such a namespace, and who the user is.
 */

/** The environment variable marking a process inside skiff's rootless user namespace. */
export const USERNS_ENV = 'SKIFF_USERNS';

/** What the marker says: the invoking user's host ids and the mapping kind. */
export interface UsernsMarker {
  uid: number;
  gid: number;
  mode: 'full' | 'single';
}

/** Parses the SKIFF_USERNS marker; undefined when absent or malformed. Pure. */
export function parseUsernsMarker(v: string | undefined): UsernsMarker | undefined {
  const m = /^(\d+):(\d+):(full|single)$/.exec(v ?? '');
  if (!m) return undefined;
  return { uid: Number(m[1]), gid: Number(m[2]), mode: m[3] as 'full' | 'single' };
}

/**
 * The marker of the namespace this process runs in, or undefined (rootful, or rootless before the re-exec).
 * Only trusted when this process is uid 0 in a user namespace that is not the initial one, so a user cannot
 * make a root process believe it is rootless by setting the variable.
 */
export function usernsMarker(env: NodeJS.ProcessEnv = process.env): UsernsMarker | undefined {
  const m = parseUsernsMarker(env[USERNS_ENV]);
  if (!m) return undefined;
  return runningInUserNamespace() ? m : undefined;
}

/** The invoking user's host uid: the marker's inside skiff's namespace, else the process's. */
export function hostUid(env: NodeJS.ProcessEnv = process.env): number {
  return usernsMarker(env)?.uid ?? process.getuid?.() ?? 0;
}

/** The invoking user's host gid: the marker's inside skiff's namespace, else the process's. */
export function hostGid(env: NodeJS.ProcessEnv = process.env): number {
  return usernsMarker(env)?.gid ?? process.getgid?.() ?? 0;
}
