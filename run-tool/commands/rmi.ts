import type { Command } from 'commander';
import { SkiffError, isSkiffError } from '../../shared/errors.ts';
import { addRootOption, storeRootOf } from '../../shared/cli/program.ts';
import { Annotation } from '../../shared/oci/media-types.ts';
import type { Descriptor } from '../../shared/oci/types.ts';
import { listImages } from '../../shared/store/list-images.ts';
import { lookupImage } from '../../shared/store/lookup.ts';
import { openStore, type Store } from '../../shared/store/store.ts';
import { listContainers } from '../containers/state.ts';
import { removeContainer } from '../containers/lifecycle.ts';
import { collectStoreGarbage } from '../ops/image-gc.ts';
import { interruptSignal } from '../../shared/cli/interrupt.ts';

const hexOf = (d: string): string => d.replace(/^sha256:/, '');

/** One podman `rmi` report line (`Untagged: NAME` / `Deleted: ID`). */
export type RmiLine = { kind: 'Untagged' | 'Deleted'; value: string };

/** Options of removeImage. */
export interface RemoveImageOptions {
  force?: boolean;
  signal?: AbortSignal;
}

async function entriesOfImage(store: Store, id: string, o: { signal?: AbortSignal }): Promise<Descriptor[]> {
  const out: Descriptor[] = [];
  for (const e of await store.layout.entries(o)) {
    const cid = (await store.layout.configDigest(e, o)) ?? e.digest;
    if (cid === id) out.push(e);
  }
  return out;
}

/**
 * Removes (or untags) one image as `podman rmi` does: by a name that is not the image's last one it only
 * untags; by its last name, or by ID, it removes every index entry of the image. By ID with several names,
 * or while a container uses it, it refuses unless `force` (which removes those containers first, rm -f). Blobs stay until gc (collectStoreGarbage). Index edits are atomic (layout.update).
 */
export async function removeImage(root: string, store: Store, input: string, o: RemoveImageOptions = {}): Promise<RmiLine[]> {
  const so = o.signal ? { signal: o.signal } : {};
  const found = await lookupImage(store.layout, input, so);
  const id = found.id ?? found.descriptor.digest;
  const entries = await entriesOfImage(store, id, so);
  const names = [...new Set(entries.map((e) => e.annotations?.[Annotation.RefName]).filter((n): n is string => n !== undefined))];
  const lines: RmiLine[] = [];
  if (found.name !== undefined && names.length > 1) {
    await store.layout.untag(found.name, so);
    return [{ kind: 'Untagged', value: found.name }];
  }
  if (found.name === undefined && names.length > 1 && !o.force) {
    throw new SkiffError('EINVALID', `unable to delete image "${hexOf(id)}" by ID with more than one tag ([${names.join(' ')}]): please force removal`);
  }
  const users = (await listContainers(root)).filter((c) => hexOf(c.record.image.id) === hexOf(id) || c.record.image.digest === found.descriptor.digest);
  if (users.length > 0) {
    if (!o.force) {
      throw new SkiffError('ELOCKED', `image used by ${users[0]!.record.id}: image is in use by a container: consider listing external containers and force-removing image`);
    }
    for (const c of users) await removeContainer(store, c.record.id, { force: true });
  }
  const ids = new Set(entries.map((e) => e.digest));
  await store.layout.update((es) => es.filter((e) => !ids.has(e.digest)), so);
  for (const n of names) lines.push({ kind: 'Untagged', value: n });
  lines.push({ kind: 'Deleted', value: hexOf(id) });
  return lines;
}

/**
 * Adds podman's `rmi [-f] [-a] [-i] IMAGE…`: prints `Untagged: NAME` and `Deleted: ID` lines, then
 * garbage-collects blobs and unpacked layers no image or container needs. Every image is attempted; errors
 * are printed one line each and the command exits 125 when any failed.
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
          if (a.all || a.ignore) return;
          throw new SkiffError('ENOTFOUND', `${images[0]}: image not known`);
        }
        throw e;
      }
      try {
        const targets = a.all ? (await listImages(store.layout, { signal })).map((i) => i.id as string) : images;
        for (const t of targets) {
          try {
            for (const l of await removeImage(root, store, t, { force: a.force === true, signal })) process.stdout.write(`${l.kind}: ${l.value}\n`);
          } catch (e) {
            if (a.ignore && isSkiffError(e, 'ENOTFOUND')) continue;
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
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      for (const e of errors.slice(0, -1)) process.stderr.write(`Error: ${(e as Error).message}\n`);
      throw errors[errors.length - 1];
    }
  });
}
