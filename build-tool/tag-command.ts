/** `build-tool tag IMAGE NAME…`: adds local names (normalised as buildah: `app` → `localhost/app:latest`). */
import type { Command } from 'commander';
import { addRootOption, storeRootOf } from '../shared/cli/program.ts';
import { formatReference, localTagForm, parseReference } from '../shared/ref/reference.ts';
import { lookupImage } from '../shared/store/lookup.ts';
import { openStore } from '../shared/store/store.ts';

/** Adds `tag`. Idempotent; the last tag of a name wins. */
export function addTagCommand(program: Command): void {
  const cmd = program.command('tag').description('add names to a local image').argument('<image>').argument('<names...>');
  addRootOption(cmd).action(async (image: string, names: string[]) => {
    const store = await openStore(storeRootOf(cmd), { write: true });
    try {
      const found = await lookupImage(store.layout, image);
      for (const n of names) await store.commitImage(found.descriptor, { name: formatReference(localTagForm(parseReference(n))) });
    } finally {
      await store.close();
    }
  });
}
