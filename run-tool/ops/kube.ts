// The Kubernetes YAML operations (podman's `kube generate`, `kube play`, `kube down`). Plain options in, plain
// results out, SkiffError on failure; nothing here parses argv or prints. The conversions are shared/kube/
// (pure); pods are made through the pod operations (ops/pods.ts) and containers through ops/create-container.ts.
import { rm } from 'node:fs/promises';
import { isSkiffError, SkiffError } from '../../shared/errors.ts';
import { documentsToYaml, generateDocuments } from '../../shared/kube/generate.ts';
import { createdBy, planPlay, type PlayContainer, type PlayPod } from '../../shared/kube/play.ts';
import type { RegistryOptions } from '../../shared/registry/types.ts';
import type { Store } from '../../shared/store/store.ts';
import { ensureImage } from '../containers/pull-policy.ts';
import { startDetached } from '../containers/start-container.ts';
import { removeContainer as removeById } from '../containers/stop-container.ts';
import type { RestartPolicy } from '../containers/state.ts';
import { inspectVolume } from '../containers/volumes.ts';
import { gatherGenerateInputs } from '../kube/gather.ts';
import { checkHostPaths, containerMounts, emptyDirVolume, kubeFilesDir, prepareHostPaths, writeVolumeFiles } from '../kube/play-volumes.ts';
import { findPod } from '../pods/state.ts';
import { waitContainer } from './container-lifecycle.ts';
import { createContainer } from './create-container.ts';
import { createPod, getPod, removePod } from './pods.ts';
import { createNamedVolume, removeNamedVolume } from './volumes.ts';

/** The label on volumes `kube play` makes for a pod's emptyDir volumes: `kube down` removes them with the pod. */
export const KUBE_POD_LABEL = 'io.skiff.kube.pod';

/** generateKube's options (podman's `kube generate` flags). */
export interface GenerateKubeOptions {
  /** also write a NodePort Service per pod that publishes ports */
  service?: boolean;
}

/**
 * The YAML of containers, pods and volumes `names` (podman's `kube generate`): a Pod per pod (containers given
 * alone become one pod), a Service each with `service`, a PersistentVolumeClaim per named volume. Reads only.
 */
export async function generateKube(store: Store, names: readonly string[], o: GenerateKubeOptions = {}): Promise<string> {
  if (names.length === 0) throw new SkiffError('EINVALID', 'kube generate needs at least one container, pod or volume name');
  const { pods, volumes } = await gatherGenerateInputs(store, names);
  return documentsToYaml(generateDocuments(pods, volumes, o));
}

/** playKube's options (podman's `kube play` flags). */
export interface PlayKubeOptions {
  /** `--configmap` files: ConfigMaps the YAML may refer to */
  configMaps?: { file: string; text: string }[];
  /** remove pods of the same names first */
  replace?: boolean;
  /** start the pods (default true) */
  start?: boolean;
  /** the network every pod joins (host-network pods excepted) */
  network?: string;
  registry?: RegistryOptions;
  log?: (line: string) => void;
  onWarning?: (m: string) => void;
  signal?: AbortSignal;
}

/** What one played pod became. */
export interface PlayedPod {
  id: string;
  name: string;
  /** its containers' ids, init containers (already run and removed) excepted */
  containers: string[];
}

function restartOf(pod: PlayPod): RestartPolicy {
  return { name: pod.restart, maximumRetryCount: 0 };
}

async function makeContainer(store: Store, pod: PlayPod, podId: string, c: PlayContainer, init: boolean, o: PlayKubeOptions): Promise<string> {
  const { mounts, volumes } = containerMounts(store.paths.root, pod, c);
  const r = await createContainer(store, {
    image: c.image,
    pull: 'never', // present already: pulls happen before anything is made
    name: `${pod.name}-${c.name}`,
    podRef: podId,
    ...(c.entrypoint && { entrypoint: c.entrypoint }),
    ...(c.args && { args: c.args }),
    env: c.env,
    ...(c.workdir !== undefined && { workdir: c.workdir }),
    ...(c.user !== undefined && { user: c.user }),
    ...(c.capAdd.length > 0 && { capAdd: c.capAdd }),
    ...(c.capDrop.length > 0 && { capDrop: c.capDrop }),
    ...(c.privileged && { privileged: true }),
    ...(c.readOnly && { readOnly: true }),
    ...(c.memory !== undefined && { memory: c.memory }),
    ...(c.cpus !== undefined && { cpus: c.cpus }),
    ...(c.tty && { tty: true }),
    ...(c.stdin && { interactive: true }),
    mounts,
    volumes,
    labels: { [KUBE_POD_LABEL]: pod.name },
    ...(!init && { restart: restartOf(pod) }),
    ...(o.onWarning && { onWarning: o.onWarning }),
    ...(o.signal && { signal: o.signal }),
  });
  return r.id;
}

/** Runs `pod`'s init containers one by one to completion; a non-zero exit fails the play. Each is removed after. */
async function runInitContainers(store: Store, pod: PlayPod, podId: string, o: PlayKubeOptions): Promise<void> {
  for (const c of pod.initContainers) {
    const id = await makeContainer(store, pod, podId, c, true, o);
    await startDetached(store, id);
    const { exitCode } = await waitContainer(store, id, o.signal ? { signal: o.signal } : {});
    if (exitCode !== 0) throw new SkiffError('EINVALID', `${pod.doc}: init container ${c.name} exited with code ${exitCode}`, { hint: 'run the init container alone to see its output' });
    await removeById(store, id, { force: true });
  }
}

/**
 * Plays a Kubernetes YAML stream (podman's `kube play`): reads and checks every document first (planPlay, hostPath
 * types), pulls the images their pull policies require, then makes the claims' volumes and each pod — infra and
 * containers through the pod operations — running init containers in order before the others start. A failure
 * removes every pod, volume and file this play made: nothing is left half-made.
 */
export async function playKube(store: Store, text: string, o: PlayKubeOptions = {}): Promise<{ pods: PlayedPod[]; volumes: string[] }> {
  const root = store.paths.root;
  const plan = planPlay(text, o.configMaps ?? []);
  for (const w of plan.warnings) o.onWarning?.(`WARNING: ${w}`);
  await checkHostPaths(plan.pods);
  if (!o.replace) {
    for (const p of plan.pods) {
      const old = await findPod(root, p.name).catch((e: unknown) => (isSkiffError(e, 'ENOTFOUND') ? undefined : Promise.reject(e)));
      if (old) throw new SkiffError('EEXIST', `${p.doc}: metadata.name: a pod named ${p.name} already exists`, { hint: 'use --replace, or kube down the file first' });
    }
  }
  // every image first: a pull that fails names the image, and nothing is made
  const images = new Map<string, PlayContainer['pullPolicy']>();
  for (const p of plan.pods) for (const c of [...p.initContainers, ...p.containers]) if (images.get(c.image) !== 'always') images.set(c.image, c.pullPolicy);
  for (const [image, policy] of images) {
    try {
      await ensureImage(store, image, policy, { ...(o.registry && { registry: o.registry }), ...(o.log && { log: o.log }), ...(o.onWarning && { onWarning: o.onWarning }), ...(o.signal && { signal: o.signal }) });
    } catch (e) {
      if (!isSkiffError(e)) throw e;
      throw new SkiffError(e.code, e.message.startsWith(`${image}:`) ? e.message : `image ${image}: ${e.message}`, { ...(e.hint && { hint: e.hint }), cause: e });
    }
  }
  const madeVolumes: string[] = [];
  const madePods: string[] = [];
  const volumes: string[] = [];
  const volume = async (name: string, labels: Record<string, string>) => {
    const existed = await inspectVolume(root, name).then(() => true, () => false);
    if (!existed) {
      await createNamedVolume(root, name, { labels, ignoreExisting: true });
      madeVolumes.push(name);
    }
  };
  const out: PlayedPod[] = [];
  try {
    for (const c of plan.claims) {
      await volume(c, {});
      volumes.push(c);
    }
    for (const p of plan.pods) {
      await prepareHostPaths(p);
      for (const [n, v] of Object.entries(p.volumes)) if (v.kind === 'emptyDir' && !v.memory) await volume(emptyDirVolume(p.name, n), { [KUBE_POD_LABEL]: p.name });
      await writeVolumeFiles(root, p);
      const network = p.hostNetwork ? 'host' : o.network;
      const { id } = await createPod(store, {
        name: p.name,
        labels: { [KUBE_POD_LABEL]: p.name },
        ...(p.hostname !== undefined && { hostname: p.hostname }),
        ...(network !== undefined && { network }),
        ports: p.ports,
        replace: o.replace === true,
        createCommand: ['kube', 'play'],
        ...(o.onWarning && { onWarning: o.onWarning }),
        ...(o.signal && { signal: o.signal }),
      });
      madePods.push(id);
      const start = o.start !== false;
      if (start) {
        const infra = (await getPod(store, id)).infra;
        if (infra) await startDetached(store, infra.record.id);
        await runInitContainers(store, p, id, o);
      } else if (p.initContainers.length > 0) {
        o.onWarning?.(`WARNING: ${p.doc}: init containers run only when the pod is played with --start=true; they were not created`);
      }
      const ids: string[] = [];
      for (const c of p.containers) ids.push(await makeContainer(store, p, id, c, false, o));
      if (start) for (const cid of ids) await startDetached(store, cid);
      out.push({ id, name: p.name, containers: ids });
    }
  } catch (e) {
    for (const id of madePods) await removePod(store, id, { force: true, timeout: 0, ignoreMissing: true }).catch(() => {});
    for (const p of plan.pods) await rm(kubeFilesDir(root, p.name), { recursive: true, force: true }).catch(() => {});
    for (const v of madeVolumes) await removeNamedVolume(root, v, { force: true }).catch(() => {});
    throw e;
  }
  return { pods: out, volumes };
}

/**
 * Removes what a YAML stream made (podman's `kube down`): each of its pods (stopped, then removed) with their
 * emptyDir volumes and ConfigMap/Secret files; its claims' volumes too with `force`. Pods already gone are skipped.
 */
export async function downKube(store: Store, text: string, o: { force?: boolean; onWarning?: (m: string) => void } = {}): Promise<{ stopped: string[]; removed: string[]; volumes: string[] }> {
  const root = store.paths.root;
  const { pods, claims } = createdBy(text);
  const out = { stopped: [] as string[], removed: [] as string[], volumes: [] as string[] };
  for (const name of pods) {
    const r = await removePod(store, name, { force: true, ignoreMissing: true, ...(o.onWarning && { onWarning: o.onWarning }) });
    if (r) {
      out.stopped.push(r.id);
      out.removed.push(r.id);
    }
    await rm(kubeFilesDir(root, name), { recursive: true, force: true });
    const { pruneUnusedVolumes } = await import('./volumes.ts');
    await pruneUnusedVolumes(root, { [KUBE_POD_LABEL]: name });
  }
  if (o.force) {
    for (const c of claims) {
      try {
        await removeNamedVolume(root, c, { force: true, ...(o.onWarning && { onWarning: o.onWarning }) });
        out.volumes.push(c);
      } catch (e) {
        if (!isSkiffError(e, 'ENOTFOUND')) throw e;
      }
    }
  }
  return out;
}
