/**
 * buildah's scripting verbs: `from`, `run`, `copy`, `add`, `config`, `commit`, `containers`, `rm`, `inspect`. Only
 * parses arguments, calls shared/build/working and prints as buildah 1.28 prints: `from` the container name, `commit`
 * the image ID, `copy`/`add` the digest of what was added, `rm` the removed IDs; errors exit 125, a failed `run` with
 * its command's own status.
 */
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { SkiffError, isSkiffError } from '../shared/errors.ts';
import { addRootOption, storeRootOf } from '../shared/cli/program.ts';
import { collect } from '../shared/cli/flags.ts';
import { interruptSignal } from '../shared/cli/interrupt.ts';
import { addRegistryOptions, registryOptionsOf } from '../shared/cli/registry-options.ts';
import { parseGoTemplate } from '../shared/cli/go-template.ts';
import { parseBuildNetwork } from '../shared/build/executor/run-network.ts';
import { addRunSettingsOptions, runSettings } from '../shared/cli/run-settings.ts';
import { listContainers, findContainer, type WorkingContainer } from '../shared/build/working/containers.ts';
import { commitContainer, configure, copyInto, fromImage, removeContainers, runIn, type StepIo } from '../shared/build/working/steps.ts';
import { inspectImage, inspectContainer } from '../shared/build/working/inspect.ts';

type Flags = Record<string, unknown>;

const io: StepIo = {
  stdout: (c) => void process.stdout.write(c),
  stderr: (c) => void process.stderr.write(c),
  warn: (m) => void process.stderr.write(`WARN[0000] ${m}\n`),
};

async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const i = interruptSignal();
  try {
    return await fn(i.signal);
  } finally {
    i.dispose();
  }
}

function pullPolicy(f: Flags): 'always' | 'missing' | 'never' | 'newer' {
  if (f.pullAlways === true) return 'always';
  if (f.pullNever === true) return 'never';
  const v = f.pull;
  if (v === undefined || v === true || v === 'true' || v === 'missing') return 'missing';
  if (v === 'false') return 'never';
  if (v === 'always' || v === 'never' || v === 'newer') return v;
  throw new SkiffError('EINVALID', `invalid --pull ${JSON.stringify(String(v))}`, { hint: 'use always, missing, never or newer' });
}

function imageFormat(v: unknown): 'oci' | 'docker' | undefined {
  if (v === undefined) return undefined;
  if (v === 'oci') return 'oci';
  if (v === 'docker') return 'docker';
  throw new SkiffError('EINVALID', `unrecognized image type ${JSON.stringify(String(v))}`, { hint: 'use oci or docker' });
}

/** Adds from, run, copy, add, config, commit, containers, rm and inspect. */
export function addWorkingCommands(program: Command): void {
  const from = addRootOption(
    program
      .command('from')
      .description('create a working container based on an image')
      .argument('<image>', "an image name, or 'scratch'")
      .option('--name <name>', 'set a name for the working container')
      .option('--pull [policy]', 'pull policy: always, missing (default), never, newer')
      .option('--pull-always', 'pull the image even if one is stored')
      .option('--pull-never', 'never pull the image')
      .option('-q, --quiet', "don't output progress information when pulling images"),
  );
  addRegistryOptions(from).action(async (image: string, f: Flags) =>
    interruptible(async (signal) => {
      const c = await fromImage(storeRootOf(from), image, {
        ...(f.name !== undefined && { name: String(f.name) }),
        pull: pullPolicy(f),
        registry: registryOptionsOf(f as Parameters<typeof registryOptionsOf>[0]),
        onInfo: f.quiet === true ? undefined : (m) => process.stderr.write(`${m}\n`),
        onWarning: (m) => process.stderr.write(`WARN[0000] ${m}\n`),
        signal,
      });
      process.stdout.write(`${c.name}\n`);
    }),
  );

  const runCmd = program
    .command('run')
    .description('run a command inside of the working container')
    .argument('<container>')
    .argument('[command...]')
    .option('-e, --env <NAME=VALUE>', 'add an environment variable for this command only (repeatable)', collect, [])
    .option('--network <mode>', "'private' (default), 'none', 'host' or a network name")
    .option('--user <user[:group]>', 'run the command as this user (this command only)')
    .option('--workingdir <dir>', 'run the command in this directory (this command only)');
  const run = addRootOption(addRunSettingsOptions(runCmd, { withMount: true }).passThroughOptions());
  run.action(async (container: string, command: string[], f: Flags) =>
    interruptible(async (signal) => {
      const argv = command[0] === '--' ? command.slice(1) : command;
      await runIn(storeRootOf(run), container, argv, { io, env: f.env as string[], ...(f.user !== undefined && { user: String(f.user) }), ...(f.workingdir !== undefined && { workingDir: String(f.workingdir) }), ...(f.network !== undefined && { network: parseBuildNetwork(String(f.network)) }), run: { ...runSettings(f), runStdin: true }, signal });
    }),
  );

  for (const kind of ['copy', 'add'] as const) {
    const cmd = addRootOption(
      program
        .command(kind)
        .description(kind === 'copy' ? "copy content into the container's filesystem" : "add content to the container's filesystem (archives are extracted, URLs fetched)")
        .argument('<container>')
        .argument('<src...>', 'sources, then the destination (default: the working directory)')
        .option('--chown <user:group>', 'set the owner of the copied content')
        .option('--chmod <mode>', 'set the mode of the copied content')
        .option('-q, --quiet', "don't output a digest of the content"),
    );
    cmd.action(async (container: string, args: string[], f: Flags) =>
      interruptible(async (signal) => {
        const sources = args.length > 1 ? args.slice(0, -1) : args;
        const dest = args.length > 1 ? args[args.length - 1] : undefined;
        const r = await copyInto(storeRootOf(cmd), container, kind, sources, dest, {
          io,
          ...(f.chown !== undefined && { chown: String(f.chown) }),
          ...(f.chmod !== undefined && { chmod: String(f.chmod) }),
          signal,
        });
        if (f.quiet !== true) process.stdout.write(`${r.digest}\n`);
      }),
    );
  }

  const config = addRootOption(
    program
      .command('config')
      .description('update image configuration settings of the working container')
      .argument('<container>')
      .option('-e, --env <NAME=VALUE>', 'add an environment variable (repeatable)', collect, [])
      .option('--cmd <command>', 'default command (JSON array, or words)')
      .option('--entrypoint <entrypoint>', 'entry point (JSON array, or a shell command)')
      .option('-l, --label <key=value>', 'add an image label (repeatable)', collect, [])
      .option('--workingdir <dir>', 'default working directory')
      .option('-u, --user <user[:group]>', 'default user')
      .option('-p, --port <port>', 'exposed port (repeatable)', collect, [])
      .option('-v, --volume <path>', 'volume (repeatable)', collect, [])
      .option('--stop-signal <signal>', 'stop signal')
      .option('-a, --author <author>', 'image author')
      .option('--shell <shell>', 'shell for shell-form commands')
      .option('--onbuild <instruction>', 'ONBUILD trigger (repeatable)', collect, [])
      .option('--arch <architecture>', 'set the architecture of the image')
      .option('--os <os>', 'set the operating system of the image')
      .option('--variant <variant>', 'set the architecture variant of the image')
      .option('--os-version <version>', 'set the OS version of the image'),
  );
  config.action(async (container: string, f: Flags) =>
    interruptible(async (signal) => {
      await configure(
        storeRootOf(config),
        container,
        {
          env: f.env as string[],
          labels: f.label as string[],
          ports: f.port as string[],
          volumes: f.volume as string[],
          onbuild: f.onbuild as string[],
          ...(f.cmd !== undefined && { cmd: String(f.cmd) }),
          ...(f.entrypoint !== undefined && { entrypoint: String(f.entrypoint) }),
          ...(f.workingdir !== undefined && { workingDir: String(f.workingdir) }),
          ...(f.user !== undefined && { user: String(f.user) }),
          ...(f.stopSignal !== undefined && { stopSignal: String(f.stopSignal) }),
          ...(f.author !== undefined && { author: String(f.author) }),
          ...(f.shell !== undefined && { shell: String(f.shell) }),
          ...(f.arch !== undefined && { arch: String(f.arch) }),
          ...(f.os !== undefined && { os: String(f.os) }),
          ...(f.variant !== undefined && { variant: String(f.variant) }),
          ...(f.osVersion !== undefined && { osVersion: String(f.osVersion) }),
        },
        { io, signal },
      );
    }),
  );

  const commit = addRootOption(
    program
      .command('commit')
      .description('create an image from a working container')
      .argument('<container>')
      .argument('[image]')
      .option('-f, --format <format>', 'image format: oci (default) or docker')
      .option('--iidfile <file>', 'write the image ID to the file')
      .option('--manifest <list>', 'add the image to this manifest list (created when missing)')
      .option('--rm', 'remove the container after committing')
      .option('--squash', 'produce an image with only one layer (the base image\'s layers included)')
      .option('-q, --quiet', "don't output progress information"),
  );
  commit.action(async (container: string, image: string | undefined, f: Flags) =>
    interruptible(async (signal) => {
      const format = imageFormat(f.format);
      const root = storeRootOf(commit);
      if (!f.quiet) process.stderr.write('Getting image source signatures\n');
      const id = await commitContainer(root, container, image, { io, rm: f.rm === true, squash: f.squash === true, ...(format && { format }), signal });
      if (f.manifest !== undefined) {
        const { withStore, createList, addToList } = await import('../shared/transport/manifest-list.ts');
        await withStore(root, { signal }, async (s) => {
          await createList(s, String(f.manifest), { amend: true, signal });
          await addToList(s, String(f.manifest), [id], { storeRoot: root, registry: {}, signal }, { signal });
        });
      }
      if (!f.quiet) process.stderr.write('Writing manifest to image destination\nStoring signatures\n');
      if (f.iidfile !== undefined) await writeFile(String(f.iidfile), id);
      process.stdout.write(`${id.slice('sha256:'.length)}\n`);
    }),
  );

  const containers = addRootOption(
    program
      .command('containers')
      .description('list working containers and their base images')
      .option('--json', 'output in JSON format')
      .option('-n, --noheading', 'do not print column headings')
      .option('--notruncate', 'do not truncate output')
      .option('-q, --quiet', 'display only container IDs')
      .option('--format <template>', 'pretty-print containers using a Go template'),
  );
  containers.action(async (f: Flags) => {
    const all = await listContainers(storeRootOf(containers));
    const rows = all.map((c) => ({ ContainerID: c.id, Builder: true, ImageID: c.fromImageId.replace(/^sha256:/u, ''), ImageName: c.fromImage, ContainerName: c.name }));
    if (f.json === true) {
      const j = rows.map((r) => ({ id: r.ContainerID, builder: true, imageid: r.ImageID, imagename: r.ImageName, containername: r.ContainerName }));
      process.stdout.write(`${JSON.stringify(j, null, 4)}\n`);
      return;
    }
    if (f.quiet === true) {
      for (const r of rows) process.stdout.write(`${r.ContainerID}\n`);
      return;
    }
    if (f.format !== undefined) {
      const t = parseGoTemplate(String(f.format), { name: 'containers' });
      for (const r of rows) process.stdout.write(`${t.render(r)}\n`);
      return;
    }
    const trunc = f.notruncate !== true;
    const cut = (s: string) => (trunc ? s.slice(0, 12) : s);
    const line = (a: string, b: string, c: string, d: string, e: string) => `${a.padEnd(trunc ? 12 : 64)}  ${b.padEnd(8)} ${c.padEnd(trunc ? 12 : 64)} ${d.padEnd(32)} ${e}\n`;
    let out = f.noheading === true ? '' : line('CONTAINER ID', 'BUILDER', 'IMAGE ID', 'IMAGE NAME', 'CONTAINER NAME');
    for (const r of rows) out += line(cut(r.ContainerID), '   *', cut(r.ImageID), r.ImageName, r.ContainerName);
    process.stdout.write(out);
  });

  const rm = addRootOption(
    program
      .command('rm')
      .description('remove one or more working containers')
      .argument('[containers...]')
      .option('-a, --all', 'remove all working containers'),
  );
  rm.action(async (names: string[], f: Flags) =>
    interruptible(async (signal) => {
      const root = storeRootOf(rm);
      if (f.all === true && names.length > 0) throw new SkiffError('EINVALID', 'when using the --all switch, you may not pass any containers names or IDs');
      if (f.all !== true && names.length === 0) throw new SkiffError('EINVALID', 'container ID must be specified', { hint: 'name a container, or pass --all' });
      const targets = f.all === true ? (await listContainers(root)).map((c) => c.id) : names;
      let failed: unknown;
      for (const n of targets) {
        try {
          for (const id of await removeContainers(root, [n], { signal })) process.stdout.write(`${id}\n`);
        } catch (e) {
          if (failed !== undefined) process.stderr.write(`Error: ${(failed as Error).message}\n`);
          failed = e;
        }
      }
      if (failed !== undefined) throw failed;
    }),
  );

  const mount = addRootOption(program.command('mount').description("mount a working container's root filesystem").argument('[containers...]').option('--json', 'output in JSON format'));
  mount.action(async (names: string[], f: Flags) =>
    interruptible(async (signal) => {
      const root = storeRootOf(mount);
      const { isMounted, mountContainer, mountDirs } = await import('../shared/build/working/mount.ts');
      if (names.length === 0) {
        const rows: { container: string; mountPoint: string }[] = [];
        for (const c of await listContainers(root)) if (await isMounted(root, c)) rows.push({ container: c.name, mountPoint: mountDirs(root, c.id).merged });
        process.stdout.write(f.json === true ? `${JSON.stringify(rows, null, 4)}\n` : rows.map((r) => `${r.container} ${r.mountPoint}\n`).join(''));
        return;
      }
      const rows: { container: string; mountPoint: string }[] = [];
      for (const n of names) rows.push({ container: n, mountPoint: await mountContainer(root, n, { signal }) });
      if (f.json === true) process.stdout.write(`${JSON.stringify(rows, null, 4)}\n`);
      else if (rows.length === 1) process.stdout.write(`${rows[0]!.mountPoint}\n`);
      else process.stdout.write(rows.map((r) => `${r.container} ${r.mountPoint}\n`).join(''));
    }),
  );

  const umount = addRootOption(program.command('umount').alias('unmount').description("unmount a working container's root filesystem, keeping what was written").argument('[containers...]').option('-a, --all', 'unmount all working containers'));
  umount.action(async (names: string[], f: Flags) =>
    interruptible(async (signal) => {
      const root = storeRootOf(umount);
      const { isMounted, unmountContainer } = await import('../shared/build/working/mount.ts');
      if (f.all !== true && names.length === 0) throw new SkiffError('EINVALID', 'at least one container name or ID must be specified', { hint: 'or pass --all' });
      const targets = f.all === true ? (await Promise.all((await listContainers(root)).map(async (c) => ((await isMounted(root, c)) ? c.id : undefined)))).filter((x): x is string => x !== undefined) : names;
      for (const n of targets) process.stdout.write(`${(await unmountContainer(root, n, { signal })).id}\n`);
    }),
  );

  const inspect = addRootOption(
    program
      .command('inspect')
      .description('inspect the configuration of a container or image')
      .argument('<name>')
      .option('-t, --type <type>', 'container (default: a container, else an image) or image')
      .option('-f, --format <template>', 'use a Go template to format the output'),
  );
  inspect.action(async (name: string, f: Flags) =>
    interruptible(async (signal) => {
      const root = storeRootOf(inspect);
      const type = f.type === undefined ? undefined : String(f.type);
      if (type !== undefined && type !== 'container' && type !== 'image') throw new SkiffError('EINVALID', `the only recognized types are "container" and "image"`);
      const template = f.format === undefined ? undefined : parseGoTemplate(String(f.format), { name: 'format' });
      let c: WorkingContainer | undefined;
      if (type !== 'image') {
        c = await findContainer(root, name).catch((e: unknown) => {
          if (isSkiffError(e, 'ENOTFOUND') && type === undefined) return undefined;
          throw e;
        });
      }
      const doc = c ? await inspectContainer(root, c, { signal }) : await inspectImage(root, name, { signal });
      process.stdout.write(template ? `${template.render(doc)}\n` : `${JSON.stringify(doc, null, 4)}\n`);
    }),
  );
}
