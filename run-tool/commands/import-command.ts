import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { collect } from '../../shared/cli/flags.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { importImage } from '../ops/import-image.ts';

/**
 * Adds `import TARBALL [NAME]` (podman's): a root filesystem tarball (plain, gzip or zstd; `-` for stdin)
 * becomes a one-layer image in the store, tagged NAME in local form (`app` → `localhost/app:latest`);
 * prints the image ID. `--change` instructions (applyChanges) set config fields.
 */
export function addImportCommand(program: Command): void {
  const cmd = program
    .command('import')
    .description('create an image from a root filesystem tarball')
    .argument('<tarball>', 'tarball path, or - for standard input')
    .argument('[name]', 'name to tag the image with')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR', collect, [])
    .option('-m, --message <msg>', 'history comment', 'imported from tarball')
    .option('--platform <os/arch>', 'platform to record (default: this machine)')
    .option('--format <oci|docker>', 'manifest format', 'oci')
    .option('-q, --quiet', 'print nothing but the image ID');
  addRootOption(cmd).action(async (tarball: string, name: string | undefined, opts: { change: string[]; message: string; platform?: string; format: string }) => {
    if (opts.format !== 'oci' && opts.format !== 'docker') throw new SkiffError('EINVALID', `unknown --format ${opts.format}: use oci or docker`);
    const interrupt = interruptSignal();
    try {
      const { id } = await importImage(storeRootOf(cmd), tarball === '-' ? process.stdin : tarball, {
        name,
        platform: opts.platform,
        format: opts.format,
        message: opts.message,
        changes: opts.change,
        signal: interrupt.signal,
      });
      process.stdout.write(`${id.slice(7)}\n`);
    } finally {
      interrupt.dispose();
    }
  });
}
