// The container lifecycle operations: create, run, start, stop, kill, restart, remove, wait. Both front ends (the
// CLI's commands/ and the coming API service) call these with plain options and get plain results; a failure is a
// SkiffError. Nothing here parses argv or prints: the machinery is run-tool/containers/.
import { isSkiffError } from '../../shared/errors.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { createContainer as createFromImage } from '../containers/create.ts';
import type { CreateOptions } from '../containers/create-options.ts';
import {
  ExitCodeError,
  killContainer as killById,
  removeContainer as removeById,
  runForeground,
  startDetached,
  stopContainer as stopById,
  waitContainer as waitById,
} from '../containers/lifecycle.ts';
import { withImage, type PullPolicy } from '../containers/pull-policy.ts';
import { parseSignal } from '../containers/signals.ts';
import { loadContainer, type ContainerRecord } from '../containers/state.ts';

/** createContainer's options: the container's spec plus how its image is made present. */
export interface CreateContainerOptions extends CreateOptions {
  /** When the image is pulled (default `missing`: only when it is not stored). */
  pull?: PullPolicy;
  /** Registry options of that pull. */
  registry?: RegistryOptions;
  /** Pull progress lines (podman's "Copying blob …"). */
  log?: (line: string) => void;
  /** Keep the rootfs mounted for a start that follows at once (run). */
  keepMounted?: boolean;
}

/**
 * Creates a container from `o.image`, pulling it first as `o.pull` says (withImage: with `missing` the store is
 * searched once). Returns the stored record; a failure leaves no container behind.
 */
export async function createContainer(store: Store, o: CreateContainerOptions): Promise<ContainerRecord> {
  const { pull = 'missing', registry, log, ...spec } = o;
  return withImage(store, spec.image, pull, { ...(registry && { registry }), ...(log && { log }), ...(spec.onWarning && { onWarning: spec.onWarning }) }, (image) =>
    createFromImage(store, { ...spec, image }));
}

/** runContainer's options: createContainer's plus whether it runs detached. */
export interface RunContainerOptions extends CreateContainerOptions {
  /** Start under the monitor and return at once; otherwise run attached to this process's stdio until it exits. */
  detach?: boolean;
}

/**
 * Creates and starts a container (podman's `run`). Detached: started under its monitor; when that start fails a
 * `rm` container is removed again. Attached: runs in the foreground and returns the container's exit code (125
 * skiff errors, 126 cannot invoke, 127 not found).
 */
export async function runContainer(store: Store, o: RunContainerOptions): Promise<{ id: string; exitCode?: number }> {
  const { detach, ...create } = o;
  const r = await createContainer(store, { ...create, keepMounted: true });
  if (detach) {
    try {
      await startDetached(store, r.id);
    } catch (e) {
      if (o.rm) await removeById(store, r.id, { force: true }).catch(() => {});
      throw e;
    }
    return { id: r.id };
  }
  return { id: r.id, exitCode: await runForeground(store, r, { interactive: o.interactive === true, preserveFds: o.preserveFds ?? 0 }) };
}

/** Starts the container `nameOrId` under its monitor; a failure names the container, as podman's does. */
export async function startContainer(store: Store, nameOrId: string): Promise<{ id: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  try {
    await startDetached(store, c.record.id);
  } catch (e) {
    if (e instanceof ExitCodeError) throw new ExitCodeError(e.exitCode, `unable to start container "${c.record.id}": ${e.message}`);
    throw e;
  }
  return { id: c.record.id };
}

/**
 * Stops the container `nameOrId`: its stop signal, then SIGKILL after `timeout` seconds (default the container's
 * stop timeout). With `ignoreMissing`, a container that cannot be loaded is no error and the result is undefined.
 */
export async function stopContainer(store: Store, nameOrId: string, o: { timeout?: number; ignoreMissing?: boolean } = {}): Promise<{ id: string } | undefined> {
  let id: string;
  try {
    id = (await loadContainer(store.paths.root, nameOrId)).record.id;
  } catch (e) {
    if (o.ignoreMissing) return undefined;
    throw e;
  }
  await stopById(store, id, o.timeout === undefined ? {} : { timeout: o.timeout });
  return { id };
}

/** Sends `signal` (a name or number, parseSignal's forms; default SIGKILL) to the container `nameOrId`. */
export async function killContainer(store: Store, nameOrId: string, o: { signal?: string } = {}): Promise<{ id: string }> {
  const sig = parseSignal(o.signal ?? 'KILL');
  const c = await loadContainer(store.paths.root, nameOrId);
  await killById(store, c.record.id, sig);
  return { id: c.record.id };
}

/** Stops the container `nameOrId` if it runs (as stopContainer, `timeout` seconds) and starts it again. */
export async function restartContainer(store: Store, nameOrId: string, o: { timeout?: number } = {}): Promise<{ id: string }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  await stopById(store, c.record.id, o.timeout === undefined ? {} : { timeout: o.timeout });
  await startDetached(store, c.record.id);
  return { id: c.record.id };
}

/** removeContainer's options. */
export interface RemoveContainerOptions {
  /** Stop a running container first (waiting `timeout` seconds before killing, default 0). */
  force?: boolean;
  timeout?: number;
  /** Remove its anonymous volumes too. */
  volumes?: boolean;
  /** A container that does not exist (ENOTFOUND) is no error; the result is undefined. */
  ignoreMissing?: boolean;
}

/** Removes the container `nameOrId` (a running one only with `force`). */
export async function removeContainer(store: Store, nameOrId: string, o: RemoveContainerOptions = {}): Promise<{ id: string } | undefined> {
  try {
    const id = (await loadContainer(store.paths.root, nameOrId)).record.id;
    await removeById(store, id, { force: o.force === true, volumes: o.volumes === true, ...(o.timeout !== undefined ? { timeout: o.timeout } : {}) });
    return { id };
  } catch (e) {
    if (o.ignoreMissing && isSkiffError(e, 'ENOTFOUND')) return undefined;
    throw e;
  }
}

/** Waits until the container `nameOrId` has stopped; returns its exit code. */
export async function waitContainer(store: Store, nameOrId: string, o: { signal?: AbortSignal; interval?: number } = {}): Promise<{ id: string; exitCode: number }> {
  const c = await loadContainer(store.paths.root, nameOrId);
  return { id: c.record.id, exitCode: await waitById(store, c.record.id, o) };
}
