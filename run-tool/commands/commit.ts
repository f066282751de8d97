import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { collect } from '../../shared/cli/flags.ts';
import { withStore } from './cli-util.ts';
import { commitContainerImage } from '../ops/commit-container.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';

/**
 * Adds `commit [-m MSG] [-a AUTHOR] [-c CHANGE]… [-p|--pause] [-f oci|docker] [-q] [--iidfile F] CONTAINER
 * [IMAGE]` (podman's): the container's changes become a new layer on its image, tagged IMAGE in local form
 * (`app` → `localhost/app:latest`; dangling without IMAGE); prints the new image ID.
 */
export function addCommitCommand(program: Command): void {
  const cmd = program
    .command('commit')
    .description("create new image based on the changed container")
    .argument('<container>')
    .argument('[image]')
    .option('-a, --author <author>', 'set the author for the image committed')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR', collect, [])
    .option('-f, --format <format>', 'format of the image manifest and metadata (oci or docker)', 'oci')
    .option('--iidfile <file>', 'file to write the image ID to')
    .option('-m, --message <msg>', 'set commit message for imported image')
    .option('-p, --pause', 'pause container during commit')
    .option('-q, --quiet', 'suppress output');
  addRootOption(cmd).action(async (container: string, image: string | undefined, f: { author?: string; change: string[]; format: string; iidfile?: string; message?: string; pause?: boolean; quiet?: boolean }) => {
    if (f.format !== 'oci' && f.format !== 'docker') throw new SkiffError('EINVALID', `unrecognized image type "${f.format}": use oci or docker`);
    const interrupt = interruptSignal();
    try {
      await withStore(cmd, async (store) => {
        const { id } = await commitContainerImage(store, container, {
          image,
          message: f.message,
          author: f.author,
          changes: f.change,
          pause: f.pause === true,
          format: f.format as 'oci' | 'docker',
          iidFile: f.iidfile,
          onWarning: (m) => process.stderr.write(`WARN: ${m}\n`),
          signal: interrupt.signal,
        });
        process.stdout.write(`${id.slice('sha256:'.length)}\n`);
      });
    } finally {
      interrupt.dispose();
    }
  });
}
