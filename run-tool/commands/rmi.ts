import type { Command } from 'commander';
import { clipMessage, SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { listImages } from '../ops/list-images.ts';
import { openStore, type Store } from '../../shared/store/store.ts';
import { collectStoreGarbage } from '../ops/image-gc.ts';
import { removeImage } from '../ops/remove-image.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { printWarning, removalExitStatus } from './cli-util.ts';

/**
 * Adds podman's `rmi [-f] [-a] [-i] IMAGE…`: prints `Untagged: NAME` and `Deleted: ID` lines, then
 * garbage-collects blobs and unpacked layers no image or container needs. Every image is attempted; errors
 * are printed one line each and the exit status is podman's (removalExitStatus: 1 for an image that does not
 * exist, 2 for one a container uses, 125 for the rest). With -f or -i an image that does not exist is no error.
 */
export function addRmiCommand(program: Command): void {
  const cmd = program
    .command('rmi')
    .description('remove one or more images from the local store')
    .argument('[images...]', 'image names or IDs')
    .option('-a, --all', 'remove all images')
    .option('-f, --force', 'remove images even if containers use them (removing those containers), and by ID with several tags')
    .option('-i, --ignore', 'ignore errors when an image does not exist');
  addRootOption(cmd).action(async (images: string[], a: { all?: boolean; force?: boolean; ignore?: boolean }) => {
    if (!a.all && images.length === 0) throw new SkiffError('EINVALID', 'image name or ID must be specified');
    if (a.all && images.length > 0) throw new SkiffError('EINVALID', 'when using the --all switch, you may not pass any images names or IDs');
    const root = storeRootOf(cmd);
    const { signal, dispose } = interruptSignal();
    const errors: unknown[] = [];
    try {
      let store: Store;
      try {
        store = await openStore(root, { write: true, signal });
      } catch (e) {
        if (isSkiffError(e, 'ENOTFOUND')) {
          if (a.all || a.ignore || a.force) return;
          throw new SkiffError('ENOTFOUND', `${images[0]}: image not known`, { exitStatus: 1 });
        }
        throw e;
      }
      try {
        const targets = a.all ? (await listImages(store, { signal })).map((i) => i.id as string) : images;
        for (const t of targets) {
          try {
            for (const l of await removeImage(root, store, t, { force: a.force === true, signal, onWarning: printWarning })) process.stdout.write(`${l.kind}: ${l.value}\n`);
          } catch (e) {
            if ((a.ignore || a.force) && isSkiffError(e, 'ENOTFOUND')) continue;
            if (!isSkiffError(e)) throw e;
            errors.push(e);
          }
        }
      } finally {
        await store.close();
      }
      // the images are gone from the index already; a store too damaged to sweep must not turn that into a failure
      try {
        await collectStoreGarbage(root, { signal });
      } catch (e) {
        if (!isSkiffError(e) || signal.aborted) throw e;
        process.stderr.write(`WARN: unused blobs and layers were not removed: ${e.message}; run \`run-tool system check --repair\`\n`);
      }
    } finally {
      dispose();
    }
    if (errors.length === 0) return;
    for (const e of errors) process.stderr.write(`Error: ${clipMessage((e as Error).message)}\n`);
    process.exitCode = removalExitStatus(errors);
  });
}
