import type { ContainerConfig } from '../oci/types.ts';
import { capabilitySet } from './capabilities.ts';
import { readHostLimits } from './rlimits.ts';
import { loadSeccomp, type SeccompChoice } from './seccomp.ts';
import { generateSpec, type RunOptions } from './spec.ts';
import type { RuntimeSpec } from './types.ts';
import { resolveUser } from './user.ts';
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
  signal?: AbortSignal;
}

/**
 * The whole config for a container whose rootfs is mounted at `rootfs`: resolves the user inside the rootfs
 * (RU-05), loads and converts seccomp for the effective capability set, reads the host's rlimits, generates
 * and validates the spec (RU-15). Reads only; throws before anything is written.
 */
export async function buildSpec(image: ContainerConfig, rootfs: string, o: BuildSpecOptions = {}): Promise<RuntimeSpec> {
  const so = o.signal ? { signal: o.signal } : {};
  const user = await resolveUser(rootfs, o.user ?? image.User, o.groupAdd ? { groupAdd: o.groupAdd } : {});
  const caps = capabilitySet({ ...(o.capAdd && { add: o.capAdd }), ...(o.capDrop && { drop: o.capDrop }), ...(o.privileged && { privileged: true }) });
  const seccomp = o.privileged ? undefined : await loadSeccomp(o.seccomp ?? 'default', caps, { ...so, ...(o.seccompDefaultPath && { defaultPath: o.seccompDefaultPath }) });
  const spec = generateSpec(image, o, { rootfs, user, seccomp, hostLimits: await readHostLimits(so) });
  validateSpec(spec);
  return spec;
}
