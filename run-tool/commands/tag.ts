import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { openStore } from '../../shared/store/store.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';
import { tagImage, untagImage } from '../ops/tag-image.ts';

/** Adds podman's `tag IMAGE TARGET_NAME…` (prints nothing) and `untag IMAGE [NAME…]`. */
export function addTagCommands(program: Command): void {
  const tag = program.command('tag').description('add names to a local image').argument('<image>', 'image name or ID').argument('<names...>', 'new names');
  addRootOption(tag).action(async (image: string, names: string[]) => {
    const { signal, dispose } = interruptSignal();
    const store = await openStore(storeRootOf(tag), { write: true, signal }).catch((e) => {
      throw isSkiffError(e, 'ENOTFOUND') ? new SkiffError('ENOTFOUND', `${image}: image not known`) : e;
    });
    try {
      await tagImage(store, image, names, { signal });
    } finally {
      await store.close();
      dispose();
    }
  });
  const untag = program.command('untag').description('remove names from a local image').argument('<image>', 'image name or ID').argument('[names...]', 'names to remove (default: all)');
  addRootOption(untag).action(async (image: string, names: string[]) => {
    const { signal, dispose } = interruptSignal();
    const store = await openStore(storeRootOf(untag), { write: true, signal }).catch((e) => {
      throw isSkiffError(e, 'ENOTFOUND') ? new SkiffError('ENOTFOUND', `${image}: image not known`) : e;
    });
    try {
      await untagImage(store, image, names, { signal });
    } finally {
      await store.close();
      dispose();
    }
  });
}
