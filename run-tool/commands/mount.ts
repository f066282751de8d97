import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { allContainerNames, mountContainer, mountedContainers, unmountContainer } from '../ops/container-mount.ts';
import { forEachContainer, withStore } from './cli-util.ts';

/**
 * Adds podman's `mount [-a] [--no-trunc] [--format json] [CONTAINER…]` (prints each merged root path; with no
 * container lists the mounted ones) and `unmount|umount [-a] [-f] CONTAINER…` (prints each name given). Root only.
 */
export function addMountCommands(program: Command): void {
  const mount = program
    .command('mount')
    .description("mount a working container's root filesystem")
    .argument('[containers...]')
    .option('-a, --all', 'mount all containers')
    .option('--format <format>', 'print the mounted containers in specified format (json)')
    .option('--no-trunc', 'do not truncate output')
    .option('--notruncate', 'do not truncate output');
  addRootOption(mount).action(async (names: string[], f: { all?: boolean; format?: string; trunc: boolean; notruncate?: boolean }) => {
    if (f.format !== undefined && f.format !== 'json') throw new SkiffError('EINVALID', `unsupported --format "${f.format}": only json is supported`);
    await withStore(mount, async (store) => {
      const targets = f.all ? await allContainerNames(store) : names;
      if (targets.length > 0) {
        const done: { id: string; name: string; mountpoint: string }[] = [];
        await forEachContainer(targets, async (n) => {
          done.push(await mountContainer(store, n));
        });
        if (f.format === 'json') process.stdout.write(`${JSON.stringify(done.map((m) => ({ id: m.id, Names: [m.name], mountpoint: m.mountpoint })), null, 1)}\n`);
        else process.stdout.write(done.map((m) => `${m.mountpoint}\n`).join(''));
        return;
      }
      const list = await mountedContainers(store);
      if (f.format === 'json') return void process.stdout.write(`${JSON.stringify(list.map((m) => ({ id: m.id, Names: [m.name], mountpoint: m.mountpoint })), null, 1)}\n`);
      const full = !f.trunc || f.notruncate === true;
      process.stdout.write(list.map((m) => `${full ? m.id : m.id.slice(0, 12)}  ${m.mountpoint}\n`).join(''));
    });
  });

  const unmount = program
    .command('unmount')
    .alias('umount')
    .description("unmount working container's root filesystem")
    .argument('[containers...]')
    .option('-a, --all', 'unmount all of the currently mounted containers')
    .option('-f, --force', 'force the complete unmount of the specified mounted containers');
  addRootOption(unmount).action(async (names: string[], f: { all?: boolean; force?: boolean }) => {
    if (!f.all && names.length === 0) throw new SkiffError('EINVALID', 'when neither --all nor --latest are specified, at least one container is required');
    await withStore(unmount, async (store) => {
      const targets = f.all ? (await mountedContainers(store)).map((m) => m.id) : names;
      await forEachContainer(targets, async (n) => {
        await unmountContainer(store, n, { force: f.force === true || f.all === true });
        process.stdout.write(`${n}\n`);
      });
    });
  });
}
