import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { humanSize } from '../../shared/cli/human.ts';
import { isSkiffError } from '../../shared/errors.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import { listImages } from '../../shared/store/list-images.ts';
import { openStore } from '../../shared/store/store.ts';
import { listReconciled } from '../containers/cleanup-container.ts';
import { removeContainer } from '../containers/stop-container.ts';
import { listContainers } from '../containers/state.ts';
import { pruneVolumes } from '../containers/volumes.ts';
import { collectStoreGarbage } from '../ops/image-gc.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';

/** What a prune removed. */
export interface PruneReport {
  containers: string[];
  images: string[];
  volumes: string[];
  reclaimedBytes: number;
}

/**
 * podman's `system prune`: removes every container that is not running (state API, reconciled first so a
 * container whose monitor died counts as stopped), then dangling images — with `all`, every image no
 * container uses — (index entries only; blobs follow in gc), then with `volumes` every volume no container
 * uses, then garbage-collects blobs and unpacked layers. Each step is atomic per item; a failure leaves what
 * was removed removed.
 */
export async function systemPrune(root: string, o: { all?: boolean; volumes?: boolean; signal?: AbortSignal } = {}): Promise<PruneReport> {
  const so = { signal: o.signal };
  const report: PruneReport = { containers: [], images: [], volumes: [], reclaimedBytes: 0 };
  let store;
  try {
    store = await openStore(root, { write: true, ...so });
  } catch (e) {
    if (!isSkiffError(e, 'ENOTFOUND')) throw e;
  }
  if (store) {
    try {
      // pods none of whose containers runs go first, with their containers (podman prunes pods before containers)
      await (await import('../ops/pods.ts')).prunePods(store);
      // newest first: a container sharing another's namespaces goes before it; an infra container goes only with its pod
      for (const c of (await listReconciled(store)).reverse()) {
        if (c.state.status === 'running' || c.state.status === 'stopping' || (c.record.isInfra && c.record.pod)) continue;
        await removeContainer(store, c.record.id, { force: true });
        report.containers.push(c.record.id);
      }
      const used = new Set<string>();
      for (const c of await listContainers(root)) used.add(c.record.image.id.replace(/^sha256:/, ''));
      const doomed = new Set<string>();
      for (const img of await listImages(store.layout, so)) {
        const hex = img.id.replace(/^sha256:/, '');
        if (used.has(hex)) continue;
        if (img.dangling || o.all) doomed.add(img.id);
      }
      if (doomed.size > 0) {
        const entries = await store.layout.entries(so);
        const drop = new Set<string>();
        for (const e of entries) {
          const id = (await store.layout.configDigest(e, so)) ?? e.digest;
          if (doomed.has(id) && (o.all || e.annotations?.[Annotation.RefName] === undefined)) drop.add(e.digest);
        }
        await store.layout.update((es) => es.filter((e) => !drop.has(e.digest)), so);
        report.images.push(...[...doomed].map((d) => d.replace(/^sha256:/, '')));
      }
    } finally {
      await store.close();
    }
  }
  if (o.volumes) report.volumes = await pruneVolumes(root, so);
  const gc = await collectStoreGarbage(root, so);
  report.reclaimedBytes = gc?.blobs.bytesFreed ?? 0;
  return report;
}

async function confirm(question: string): Promise<boolean> {
  process.stderr.write(question);
  let answer = '';
  for await (const c of process.stdin) {
    answer += String(c);
    if (answer.includes('\n')) break;
  }
  return /^y(es)?$/i.test(answer.trim());
}

function addPrune(cmd: Command): void {
  cmd
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('--volumes', 'also remove volumes no container uses')
    .option('-f, --force', 'do not ask for confirmation');
  addRootOption(cmd).action(async (a: { all?: boolean; volumes?: boolean; force?: boolean }) => {
    if (!a.force) {
      const what = ['all stopped containers', ...(a.volumes ? ['all volumes not used by at least one container'] : []), a.all ? 'all images without at least one container associated with them' : 'all dangling images', 'all build cache'];
      const ok = await confirm(`WARNING! This command removes:\n${what.map((w) => `\t- ${w}\n`).join('')}\nAre you sure you want to continue? [y/N] `);
      if (!ok) return;
    }
    const { signal, dispose } = interruptSignal();
    try {
      const r = await systemPrune(storeRootOf(cmd), { all: a.all === true, volumes: a.volumes === true, signal });
      const out = process.stdout;
      if (r.containers.length) out.write(`Deleted Containers\n${r.containers.join('\n')}\n`);
      if (r.volumes.length) out.write(`Deleted Volumes\n${r.volumes.join('\n')}\n`);
      if (r.images.length) out.write(`Deleted Images\n${r.images.join('\n')}\n`);
      out.write(`Total reclaimed space: ${humanSize(r.reclaimedBytes)}\n`);
    } finally {
      dispose();
    }
  });
}

/**
 * Adds `system prune` (and the top-level shorthand `prune`) with podman's `-a`, `--volumes`, `-f`. When the
 * program already has a `system` command, `prune` is added under it.
 */
export function addSystemPruneCommand(program: Command): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage skiff');
  addPrune(system.command('prune').description('remove unused containers, images and (with --volumes) volumes'));
  addPrune(program.command('prune').description('remove unused containers, images and (with --volumes) volumes (same as system prune)'));
}
