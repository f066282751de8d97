import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { openStore, type Store } from '../../shared/store/store.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { tagImage, untagImage } from '../ops/tag-image.ts';

/**
 * Opens the store for writing under an interrupt signal, runs `fn`, and closes both; a store that does not exist
 * yet holds no image, so that is podman's "image not known" for `image`.
 */
async function withImageStore(cmd: Command, image: string, fn: (store: Store, signal: AbortSignal) => Promise<unknown>): Promise<void> {
  const { signal, dispose } = interruptSignal();
  try {
    const store = await openStore(storeRootOf(cmd), { write: true, signal }).catch((e) => {
      throw isSkiffError(e, 'ENOTFOUND') ? new SkiffError('ENOTFOUND', `${image}: image not known`) : e;
    });
    try {
      await fn(store, signal);
    } finally {
      await store.close();
    }
  } finally {
    dispose();
  }
}

/** Adds podman's `tag IMAGE TARGET_NAME…` (prints nothing) and `untag IMAGE [NAME…]`. */
export function addTagCommands(program: Command): void {
  const tag = program.command('tag').description('add names to a local image').argument('<image>', 'image name or ID').argument('<names...>', 'new names');
  addRootOption(tag).action((image: string, names: string[]) => withImageStore(tag, image, (store, signal) => tagImage(store, image, names, { signal })));
  const untag = program.command('untag').description('remove names from a local image').argument('<image>', 'image name or ID').argument('[names...]', 'names to remove (default: all)');
  addRootOption(untag).action((image: string, names: string[]) => withImageStore(untag, image, (store, signal) => untagImage(store, image, names, { signal })));
}
