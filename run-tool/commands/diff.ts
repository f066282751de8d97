import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { changesJson, diffContainerOrImage } from '../ops/container-diff.ts';
import { withStore } from './cli-util.ts';

/**
 * Adds `diff [--format json] CONTAINER|IMAGE` (podman's): one `A|C|D PATH` line per change of the container's file
 * system against its image (or of an image's top layer against its parent layers), sorted by path; `--format json` prints podman's {changed, added, deleted} document.
 */
export function addDiffCommand(program: Command): void {
  const cmd = program
    .command('diff')
    .description("display the changes to the container's file system")
    .argument('<container-or-image>')
    .argument('[other]')
    .option('--format <format>', 'change the output format (json)');
  addRootOption(cmd).action(async (name: string, other: string | undefined, f: { format?: string }) => {
    if (f.format !== undefined && f.format !== 'json') throw new SkiffError('EINVALID', `unsupported --format "${f.format}": only json is supported`);
    if (other !== undefined) throw new SkiffError('EUNSUPPORTED', 'comparing two containers or images is not supported: give one container or image');
    const interrupt = interruptSignal();
    try {
      await withStore(cmd, async (store) => {
        const changes = await diffContainerOrImage(store, name, { signal: interrupt.signal });
        if (f.format === 'json') process.stdout.write(`${JSON.stringify(changesJson(changes), null, 5)}\n`);
        else process.stdout.write(changes.map((c) => `${c.kind} ${c.path}\n`).join(''));
      });
    } finally {
      interrupt.dispose();
    }
  });
}
