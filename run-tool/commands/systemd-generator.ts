import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { selfCommand } from '../containers/runc-handle.ts';
import { quadletDirs, runSystemdGenerator } from '../ops/systemd-generator.ts';

/**
 * Adds `systemd-generator [--user] [--dryrun] [-v] OUTDIR…` (podman's Quadlet as a systemd generator): units go
 * into the first OUTDIR (systemd passes normal, early, late); `--dryrun` prints them instead. Each problem prints
 * as `file:line: message` on stderr and makes the exit status 1 (podman's exits 0); the other units are written.
 */
export function addSystemdGeneratorCommand(program: Command): void {
  const cmd = program.command('systemd-generator').description('generate systemd units from Quadlet files (.container, .volume, .network, .kube, .pod)')
    .argument('[outdirs...]')
    .option('--user', 'read the user search directories')
    .option('--dryrun', 'print the units instead of writing them')
    .option('-v, --verbose', 'print what is read and written');
  addRootOption(cmd).action(async (outdirs: string[], f: { user?: boolean; dryrun?: boolean; verbose?: boolean }) => {
    if (!f.dryrun && outdirs.length === 0) throw new SkiffError('EINVALID', 'missing output directory argument', { hint: 'systemd passes it; use --dryrun to print the units' });
    const r = await runSystemdGenerator({
      dirs: quadletDirs(f.user === true),
      ...(!f.dryrun && { outDir: outdirs[0]! }),
      executable: selfCommand(),
      storeRoot: storeRootOf(cmd),
      ...(f.verbose && { log: (m: string) => void process.stderr.write(`${m}\n`) }),
    });
    if (f.dryrun) for (const [name, text] of [...r.units].sort(([a], [b]) => a.localeCompare(b))) process.stdout.write(`---${name}---\n${text}\n`);
    for (const e of r.errors) process.stderr.write(`${e.file}:${e.line}: ${e.message}\n`);
    if (r.errors.length > 0) process.exitCode = 1;
  });
}
