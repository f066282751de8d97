// Gathers what `kube generate` writes from the store: pods (with their infra ports) and containers, each next to
// its image's config, as shared/kube/generate.ts's inputs. Reads only.
import { statSync } from 'node:fs';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import { DEFAULT_PATH } from '../../shared/runtime/spec.ts';
import type { Store } from '../../shared/store/store.ts';
import type { GenerateContainer, GeneratePod } from '../../shared/kube/generate.ts';
import { readRunImage } from '../containers/create.ts';
import { loadContainer, type LoadedContainer } from '../containers/state.ts';
import { inspectVolume } from '../containers/volumes.ts';
import { podView } from '../pods/members.ts';
import { findPod } from '../pods/state.ts';

/** Environment entries skiff gives every container (spec.ts's defaults): not the user's, never written. */
const DEFAULT_ENV = [`PATH=${DEFAULT_PATH}`, 'container=skiff', 'TERM=xterm'];

async function imageConfig(store: Store, c: LoadedContainer): Promise<GenerateContainer['imageConfig']> {
  for (const ref of [c.record.image.name, c.record.image.id.replace(/^sha256:/, '')]) {
    try {
      return (await readRunImage(store, ref)).config.config ?? {};
    } catch (e) {
      if (!isSkiffError(e, 'ENOTFOUND') && !isSkiffError(e, 'EINVALID')) throw e;
    }
  }
  throw new SkiffError('ENOTFOUND', `container ${c.record.name}: its image ${c.record.image.name} is no longer stored`, { hint: 'kube generate compares the container with its image: pull or load the image again' });
}

/** One container as generate's input: mounts sorted into host binds, tmpfs and named volumes (skiff's own binds dropped). */
export async function generateContainer(store: Store, c: LoadedContainer): Promise<GenerateContainer> {
  const r = c.record;
  const root = store.paths.root;
  const mounts: GenerateContainer['mounts'] = [];
  for (const m of r.mounts) {
    if (m.type === 'tmpfs') mounts.push({ type: 'tmpfs', destination: m.destination });
    else if (m.source !== undefined && !m.source.startsWith(`${root}/`) && m.source !== root) {
      mounts.push({ type: 'bind', source: m.source, destination: m.destination, readOnly: (m.options ?? []).includes('ro'), file: statSync(m.source, { throwIfNoEntry: false })?.isFile() === true });
    }
  }
  for (const v of r.volumes as (typeof r.volumes[number] & { anonymous?: boolean })[]) {
    if (!v.anonymous) mounts.push({ type: 'volume', name: v.name, destination: v.destination, readOnly: v.options.includes('ro') });
  }
  const hostname = r.config.hostname !== r.id.slice(0, 12) && !r.namespaces?.uts ? r.config.hostname : undefined;
  return {
    name: r.name,
    image: r.image.name,
    imageConfig: await imageConfig(store, c),
    entrypoint: r.config.entrypoint,
    cmd: r.config.cmd,
    env: r.config.env.filter((e) => !e.startsWith('HOME=')),
    defaultEnv: DEFAULT_ENV,
    workingDir: r.config.workingDir,
    user: r.config.user,
    ports: r.hostConfig.portBindings,
    capAdd: r.hostConfig.capAdd,
    capDrop: r.hostConfig.capDrop,
    privileged: r.hostConfig.privileged,
    readOnly: r.hostConfig.readOnly,
    memory: r.hostConfig.memory,
    nanoCpus: r.hostConfig.nanoCpus,
    tty: r.config.tty,
    stdin: r.config.openStdin,
    restart: r.hostConfig.restartPolicy.name,
    mounts,
    hostNetwork: r.hostConfig.networkMode === 'host',
    ...(hostname !== undefined && { hostname }),
  };
}

/** What `kube generate NAME…` names: pods, containers (each alone becomes pod `<name>-pod`) and volumes. */
export async function gatherGenerateInputs(store: Store, names: readonly string[]): Promise<{ pods: GeneratePod[]; volumes: string[] }> {
  const root = store.paths.root;
  const pods: GeneratePod[] = [];
  const volumes: string[] = [];
  const loose: GenerateContainer[] = [];
  for (const n of names) {
    const pod = await findPod(root, n).catch((e: unknown) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e)));
    if (pod) {
      const v = await podView(store, pod);
      const infra = v.infra?.record;
      pods.push({
        name: pod.name,
        ...(pod.hostname !== '' && { hostname: pod.hostname }),
        hostNetwork: infra?.hostConfig.networkMode === 'host',
        ports: pod.ports,
        containers: await Promise.all(v.members.map((c) => generateContainer(store, c))),
      });
      continue;
    }
    const c = await loadContainer(root, n).catch((e: unknown) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e)));
    if (c) {
      if (c.record.isInfra) throw new SkiffError('EINVALID', `${n} is an infra container: generate its pod instead`);
      loose.push(await generateContainer(store, c));
      continue;
    }
    const vol = await inspectVolume(root, n).catch((e: unknown) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e)));
    if (vol) {
      volumes.push(vol.Name);
      continue;
    }
    throw new SkiffError('ENOTFOUND', `name or ID ${JSON.stringify(n)} not found`, { hint: 'name a container, a pod or a volume (run-tool ps -a, pod ps, volume ls)' });
  }
  // containers given alone become one pod, named after the first (podman's `<name>_pod`, with '-' to be a valid name)
  if (loose.length > 0) pods.unshift({ name: `${loose[0]!.name}-pod`, ports: [], containers: loose });
  return { pods, volumes };
}
