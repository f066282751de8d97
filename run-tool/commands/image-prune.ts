import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { pruneImages } from '../ops/prune.ts';
import { confirm, withStore } from './cli-util.ts';
import { collectStoreGarbage } from '../ops/image-gc.ts';

/** Adds `image-prune` (what `image prune` runs; podman's `-a`, `-f`): removes dangling (or all unused) images, prints their IDs. */
export function addImagePruneCommand(program: Command): void {
  const cmd = program.command('image-prune', { hidden: true }).description('remove unused images (image prune)')
    .option('-a, --all', 'remove all images not in use by containers, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation');
  addRootOption(cmd).action(async (a: { all?: boolean; force?: boolean }) => {
    if (!a.force) {
      const what = a.all ? 'all images without at least one container associated with them' : 'all dangling images';
      if (!(await confirm(`WARNING! This command removes ${what}.\nAre you sure you want to continue? [y/N] `))) return;
    }
    const ids = await withStore(cmd, async (store) => (await pruneImages(store, undefined, { all: a.all === true })).deleted);
    // blobs and unpacked layers no image holds any more go too (after the store is closed)
    if (ids && ids.length > 0) await collectStoreGarbage(storeRootOf(cmd));
    for (const id of ids ?? []) process.stdout.write(`${id}\n`);
  });
}
