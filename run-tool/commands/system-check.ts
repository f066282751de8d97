import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { SkiffError } from '../../shared/errors.ts';
import { hexOf, systemCheck, type SystemCheckReport } from '../ops/system-check.ts';
import { printWarning } from './cli-util.ts';

function printReport(r: SystemCheckReport): void {
  const out = process.stdout;
  const block = (what: string, name: string, problems: string[]) => out.write(`Damaged ${what} ${name}:\n${problems.map((p) => `\t* ${p}\n`).join('')}`);
  for (const l of r.layers) block('layer', l.path, [l.problem]);
  for (const l of r.removedLayers) out.write(`Deleted damaged layer: ${l}\n`);
  for (const i of r.images) block('image', hexOf(i.id), [...(i.names.length ? [`named ${i.names.join(', ')}`] : []), ...i.problems]);
  for (const i of r.removedImages) out.write(`Deleted damaged image: ${hexOf(i)}\n`);
  for (const c of r.containers) block('container', c.id, c.problems);
  for (const c of r.removedContainers) out.write(`Deleted damaged container: ${c}\n`);
  for (const t of r.temps) out.write(`Stale temporary file: ${t}\n`);
  for (const t of r.removedTemps) out.write(`Deleted stale temporary file: ${t}\n`);
}

/**
 * Adds podman's `system check [-q] [-r] [-f] [-m DURATION]`: prints what is damaged and what was removed; exits
 * 125 with "damage detected in local storage" when damage was found and no repair asked, and with "damage in
 * local storage still present after repair attempt" when a re-check after repairing still finds some.
 */
export function addSystemCheckCommand(program: Command): void {
  const system = program.commands.find((c) => c.name() === 'system') ?? program.command('system').description('manage skiff');
  const cmd = system
    .command('check')
    .description('check the store for consistency and remove what looks damaged')
    .option('-q, --quick', 'skip time-consuming checks (layer blobs are not hashed)')
    .option('-r, --repair', 'remove damaged images no container uses, incomplete unpacked layers and stale temp files')
    .option('-f, --force', 'also remove damaged images containers use, those containers, and damaged containers')
    .option('-m, --max <duration>', 'accepted for podman compatibility (unreferenced unpacked layers are removed by prune)');
  addRootOption(cmd).action(async (a: { quick?: boolean; repair?: boolean; force?: boolean }) => {
    const root = storeRootOf(cmd);
    const { signal, dispose } = interruptSignal();
    try {
      const r = await systemCheck(root, { quick: a.quick === true, repair: a.repair === true, force: a.force === true, signal, onWarning: printWarning });
      printReport(r);
      if (!r.errors) return;
      if (!a.repair && !a.force) throw new SkiffError('EINVALID', 'damage detected in local storage', { hint: 'run `run-tool system check --repair` (with --force to remove damaged images containers use)' });
      const again = await systemCheck(root, { quick: a.quick === true, signal });
      if (again.errors) throw new SkiffError('EINVALID', 'damage in local storage still present after repair attempt', { hint: 'damaged images in use by containers are kept without --force' });
    } finally {
      dispose();
    }
  });
}
