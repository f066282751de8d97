import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ContainerConfig } from '../oci/types.ts';
import { capabilitySet } from './capabilities.ts';
import { resolveInRoot } from './in-root.ts';
import { isUnder } from './mounts.ts';
import { readHostLimits } from './rlimits.ts';
import { loadSeccomp, type SeccompChoice } from './seccomp.ts';
import { checkWorkdir, generateSpec, type RunOptions } from './spec.ts';
import type { RuntimeSpec } from './types.ts';
import { resolveUser } from './user.ts';
import { runningInUserNamespace } from '../process/proc.ts';
import { usernsMarker } from './userns-marker.ts';
import { validateSpec } from './validate.ts';

/** Options of buildSpec on top of RunOptions. */
export interface BuildSpecOptions extends RunOptions {
  /** `-u user[:group]`; default the image's User */
  user?: string;
  groupAdd?: readonly string[];
  /** default 'default' (podman's profile) */
  seccomp?: SeccompChoice;
  /** override of the default profile's path (tests) */
  seccompDefaultPath?: string;
  /**
   * environment below the image's Env (an image or `-e` value wins): run-tool passes podman's containers.conf
   * default `TERM=xterm`, which podman sets with or without `-t`
   */
  defaultEnv?: readonly string[];
  /**
   * podman's user rules (run-tool): a given user's primary gid is also a supplementary group, and a numeric uid
   * without a passwd entry has the working directory as HOME (the entry addAccountEntries writes)
   */
  podmanUser?: boolean;
  /** buildah's user rule (build-tool RUN): the primary gid is always a supplementary group */
  buildahUser?: boolean;
  signal?: AbortSignal;
}

/**
 * The whole config for a container whose rootfs is mounted at `rootfs`: resolves the user inside the rootfs
 * (RU-05), loads and converts seccomp for the effective capability set, reads the host's rlimits, generates
 * and validates the spec (RU-15). Reads only; throws before anything is written. `defaultEnv` sits below the
 * image's Env; `podmanUser` applies podman's supplementary-group and HOME rules, `buildahUser` buildah's. Mounts are
 * ordered by the depth of their destination (stable), so no mount hides a deeper one. Inside skiff's rootless
 * namespace (run-tool and build-tool alike) /sys is bound for the host network and a single-id mapping drops
 * devpts' gid=.
 */
export async function buildSpec(image: ContainerConfig, rootfs: string, o: BuildSpecOptions = {}): Promise<RuntimeSpec> {
  const so = { signal: o.signal };
  const user = await resolveUser(rootfs, o.user ?? image.User, {
    groupAdd: o.groupAdd,
    ...(o.podmanUser && { podman: { home: checkWorkdir(o.workdir ?? image.WorkingDir) } }),
    buildah: o.buildahUser,
  });
  const caps = capabilitySet({ add: o.capAdd, drop: o.capDrop, privileged: o.privileged });
  const seccomp = o.privileged ? undefined : await loadSeccomp(o.seccomp ?? 'default', caps, { ...so, ...(o.seccompDefaultPath && { defaultPath: o.seccompDefaultPath }) });
  const img = o.defaultEnv?.length ? { ...image, Env: [...o.defaultEnv, ...(image.Env ?? [])] } : image;
  const spec = generateSpec(img, o, { rootfs, user, seccomp, hostLimits: await readHostLimits(so), runtimeInUserNamespace: runningInUserNamespace() });
  // a mount goes on after every mount of a shallower destination (podman sorts the same way, stably): a volume at
  // /etc must not hide the generated /etc/hosts, /etc/hostname and /etc/resolv.conf
  spec.mounts = [...spec.mounts].sort((a, b) => depth(a.destination) - depth(b.destination));
  // a single-id namespace has no group 5 (tty), and devpts refuses an unmapped gid= (as podman does)
  if (usernsMarker()?.mode === 'single') for (const m of spec.mounts) if (m.type === 'devpts' && m.options) m.options = m.options.filter((x) => !x.startsWith('gid='));
  validateSpec(spec);
  return spec;
}

function depth(dest: string): number {
  return posix.normalize(dest).split('/').filter((c) => c !== '').length;
}

/**
 * podman's check of a `-w` working directory at start: undefined when `cwd` is `/`, lies on or under one of
 * `mountDests` (the runtime makes it) or is a directory in `rootfs` (in-root resolution, never leaving the
 * rootfs); otherwise podman's message (`workdir "…" does not exist on container ID` / `… exists on container
 * ID, but is not a directory`), which run reports with exit code 126. Reads only.
 */
export async function missingWorkdir(rootfs: string, cwd: string, mountDests: readonly string[], id: string): Promise<string | undefined> {
  if (cwd === '/' || mountDests.some((d) => isUnder(cwd, d))) return undefined;
  const st = await stat(await resolveInRoot(rootfs, cwd)).catch(() => undefined);
  if (!st) return `workdir ${JSON.stringify(cwd)} does not exist on container ${id}`;
  if (!st.isDirectory()) return `workdir ${JSON.stringify(cwd)} exists on container ${id}, but is not a directory`;
  return undefined;
}
