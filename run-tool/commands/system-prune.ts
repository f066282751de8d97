import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { humanSize } from '../../shared/cli/human.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { systemPrune } from '../ops/system-prune.ts';
import { confirm, printWarning } from './cli-util.ts';

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
      const r = await systemPrune(storeRootOf(cmd), { all: a.all === true, volumes: a.volumes === true, signal, onWarning: printWarning });
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
