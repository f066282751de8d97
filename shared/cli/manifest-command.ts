/**
 * `manifest create|add|annotate|inspect|push|remove|rm|exists` for run-tool (podman manifest) and build-tool (buildah
 * manifest): one implementation over shared/transport/manifest-list.ts, registered by both tools. Output as podman
 * 4.3 prints it: the list ID for create/add/annotate, the index as 4-space JSON for inspect, `Untagged:`/`Deleted:`
 * for rm. Flags are checked before anything is read or written.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { SkiffError, isSkiffError } from '../errors.ts';
import { parseImageName } from '../ref/transport-name.ts';
import { addRootOption, storeRootOf } from './program.ts';
import { addRegistryOptions, registryOptionsOf } from './registry-options.ts';
import { collect } from './flags.ts';
import { interruptSignal } from './interrupt.ts';
import type { ToolName } from './exit-codes.ts';
import { parsePushFormat } from './push-command.ts';
import {
  addToList,
  annotateList,
  createList,
  deleteList,
  listId,
  pushList,
  readList,
  removeFromList,
  withStore,
  type EntryEdits,
} from '../transport/manifest-list.ts';
import type { TransportContext } from '../transport/context.ts';

type Flags = Record<string, unknown>;

function keyValues(list: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(kv)}: want KEY=VALUE`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function splitList(list: readonly string[]): string[] {
  return list.flatMap((s) => s.split(',')).filter((s) => s !== '');
}

/** The entry edits of podman's --arch/--os/--variant/--os-version/--os-features/--features/--annotation flags. */
export function entryEditsOf(f: Flags): EntryEdits {
  const e: EntryEdits = {};
  if (f.arch !== undefined) e.arch = String(f.arch);
  if (f.os !== undefined) e.os = String(f.os);
  if (f.variant !== undefined) e.variant = String(f.variant);
  if (f.osVersion !== undefined) e.osVersion = String(f.osVersion);
  if ((f.osFeatures as string[] | undefined)?.length) e.osFeatures = splitList(f.osFeatures as string[]);
  if ((f.features as string[] | undefined)?.length) e.features = splitList(f.features as string[]);
  const ann = keyValues((f.annotation as string[] | undefined) ?? [], '--annotation');
  if (Object.keys(ann).length > 0) e.annotations = ann;
  return e;
}

function addEntryFlags(cmd: Command): Command {
  return cmd
    .option('--arch <architecture>', 'override the architecture of the specified image')
    .option('--os <os>', 'override the OS of the specified image')
    .option('--variant <variant>', 'override the variant of the specified image')
    .option('--os-version <version>', 'override the OS version of the specified image')
    .option('--os-features <features>', 'override the OS features of the specified image', collect, [])
    .option('--features <features>', 'override the features of the specified image', collect, [])
    .option('--annotation <key=value>', 'set an annotation for the specified image', collect, []);
}

function contextOf(cmd: Command, f: Flags, signal: AbortSignal): TransportContext {
  return { storeRoot: storeRootOf(cmd), registry: registryOptionsOf(f as Parameters<typeof registryOptionsOf>[0]), signal };
}

async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const i = interruptSignal();
  try {
    return await fn(i.signal);
  } finally {
    i.dispose();
  }
}

/** Adds the `manifest` command group to a tool; `tool` picks the peer's exit status for a missing list in `rm`. */
export function addManifestCommands(program: Command, o: { tool: ToolName }): void {
  const m = program.command('manifest').description('manipulate manifest lists and image indexes');

  const create = addRootOption(
    m
      .command('create')
      .description('create a manifest list or image index')
      .argument('<list>')
      .argument('[images...]')
      .option('--all', "add all of the lists' images if the images to add are lists")
      .option('-a, --amend', 'modify an existing list if one with the desired name already exists'),
  );
  addRegistryOptions(create).action(async (list: string, images: string[], f: Flags) =>
    withInterrupt(async (signal) => {
      const ctx = contextOf(create, f, signal);
      const d = await withStore(ctx.storeRoot, { signal }, async (s) => {
        const made = await createList(s, list, { amend: f.amend === true, signal });
        return images.length > 0 ? addToList(s, list, images, ctx, { all: f.all === true, signal }) : made;
      });
      process.stdout.write(`${listId(d)}\n`);
    }),
  );

  const add = addEntryFlags(addRootOption(m.command('add').description('add images to a manifest list or image index').argument('<list>').argument('<images...>').option('--all', "add all of the list's images if the image is a list")));
  addRegistryOptions(add).action(async (list: string, images: string[], f: Flags) =>
    withInterrupt(async (signal) => {
      const edits = entryEditsOf(f);
      const ctx = contextOf(add, f, signal);
      const d = await withStore(ctx.storeRoot, { signal }, (s) => addToList(s, list, images, ctx, { all: f.all === true, edits, signal }));
      process.stdout.write(`${listId(d)}\n`);
    }),
  );

  const annotate = addEntryFlags(addRootOption(m.command('annotate').description('add or update information about an entry in a manifest list or image index').argument('<list>').argument('<digest>')));
  annotate.action(async (list: string, digest: string, f: Flags) =>
    withInterrupt(async (signal) => {
      const edits = entryEditsOf(f);
      const d = await withStore(storeRootOf(annotate), { signal }, (s) => annotateList(s, list, digest, edits, { signal }));
      process.stdout.write(`${listId(d)}\n`);
    }),
  );

  const inspect = addRootOption(m.command('inspect').description('display the contents of a manifest list or image index').argument('<list>'));
  addRegistryOptions(inspect).action(async (list: string, f: Flags) =>
    withInterrupt(async (signal) => {
      const ctx = contextOf(inspect, f, signal);
      let doc: unknown;
      try {
        doc = (await withStore(ctx.storeRoot, { signal, readOnly: true }, (s) => readList(s, list, { signal }))).index;
      } catch (e) {
        if (!isSkiffError(e, 'ENOTFOUND') || !namesRegistry(list)) throw e;
        doc = await inspectRemote(list, ctx).catch((re: unknown) => {
          throw isSkiffError(re, 'EINVALID') ? e : re;
        });
      }
      process.stdout.write(`${JSON.stringify(doc, null, 4)}\n`);
    }),
  );

  const push = addRootOption(
    m
      .command('push')
      .description('push a manifest list or image index to a registry')
      .argument('<list>')
      .argument('[destination]')
      .option('--all [bool]', 'also push the images in the list (default true)')
      .option('-f, --format <format>', 'manifest type (oci or v2s2) to use when pushing the list')
      .option('--digestfile <file>', 'write the digest of the pushed list to this file')
      .option('--rm', 'remove the manifest list if push succeeds')
      .option('--remove-signatures', "don't copy signatures when pushing images")
      .option('-q, --quiet', "don't output progress information"),
  );
  addRegistryOptions(push).action(async (list: string, dest: string | undefined, f: Flags) =>
    withInterrupt(async (signal) => {
      const format = parsePushFormat(f.format);
      const all = f.all === undefined || f.all === true || f.all === 'true' ? true : f.all === 'false' ? false : badBool('--all', f.all);
      const ctx = contextOf(push, f, signal);
      const digest = await withStore(ctx.storeRoot, { signal }, async (s) => {
        const cur = await readList(s, list, { signal });
        const to = dest ?? `docker://${cur.name}`;
        parseImageName(to); // a bad destination fails before anything is sent
        const d = await pushList(s, list, to, ctx, { all, ...(format && { format }), removeSignatures: f.removeSignatures === true, signal });
        if (f.digestfile !== undefined) await writeFile(String(f.digestfile), d);
        if (f.rm === true) await deleteList(s, list, { signal });
        return d;
      });
      if (f.quiet !== true) process.stderr.write(`Writing manifest list to image destination\n${digest}\n`);
    }),
  );

  const remove = addRootOption(m.command('remove').description('remove an entry from a manifest list or image index').argument('<list>').argument('<digest>'));
  remove.action(async (list: string, digest: string) =>
    withInterrupt(async (signal) => {
      const d = await withStore(storeRootOf(remove), { signal }, (s) => removeFromList(s, list, digest, { signal }));
      process.stdout.write(`${listId(d)}: ${digest}\n`);
    }),
  );

  const rm = addRootOption(m.command('rm').description('remove manifest lists or image indexes from local storage').argument('<lists...>'));
  rm.action(async (lists: string[]) =>
    withInterrupt(async (signal) => {
      let failed: unknown;
      await withStore(storeRootOf(rm), { signal }, async (s) => {
        for (const l of lists) {
          try {
            const r = await deleteList(s, l, { signal });
            process.stdout.write(`Untagged: ${r.name}\nDeleted: ${r.id}\n`);
          } catch (e) {
            if (failed !== undefined) process.stderr.write(`Error: ${(failed as Error).message}\n`);
            failed = isSkiffError(e, 'ENOTFOUND') && o.tool === 'run-tool' ? new SkiffError('ENOTFOUND', `${l}: image not known`, { exitStatus: 1 }) : e;
          }
        }
      });
      if (failed !== undefined) throw failed;
    }),
  );

  const exists = addRootOption(m.command('exists').description('check if a manifest list exists in local storage').argument('<list>'));
  exists.action(async (list: string) =>
    withInterrupt(async (signal) => {
      try {
        await withStore(storeRootOf(exists), { signal, readOnly: true }, (s) => readList(s, list, { signal }));
      } catch (e) {
        if (isSkiffError(e, 'ENOTFOUND') || isSkiffError(e, 'EINVALID')) {
          process.exitCode = 1;
          return;
        }
        throw e;
      }
    }),
  );
}

function badBool(flag: string, v: unknown): never {
  throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(v)}: use true or false`);
}

/** True when `s` names a registry explicitly (docker://, or a first component with a dot, a port or localhost). */
function namesRegistry(s: string): boolean {
  if (s.startsWith('docker://')) return true;
  const i = s.indexOf('/');
  if (i < 0) return false;
  const host = s.slice(0, i);
  return host === 'localhost' || host.includes('.') || host.includes(':');
}

/** podman inspects a list that is not local at its registry: the top manifest, as the registry serves it. */
async function inspectRemote(list: string, ctx: TransportContext): Promise<unknown> {
  let name = parseImageName(list);
  if (name.transport === 'plain') name = { transport: 'docker', ref: name.ref };
  const { openSource } = await import('../transport/open.ts');
  const src = await openSource(name, ctx);
  try {
    const m = await src.getManifest();
    return JSON.parse(Buffer.from(m.bytes).toString('utf8'));
  } finally {
    await src.close();
  }
}
