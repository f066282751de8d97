import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { addRootOption } from '../../shared/cli/program.ts';
import { collect, parseBool } from '../../shared/cli/flags.ts';
import { SkiffError } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { downKube, generateKube, playKube } from '../ops/kube.ts';
import { withStore } from './cli-util.ts';
import { addRegistryOptions, registryOptionsOf } from './registry-options.ts';

const warn = (m: string) => void process.stderr.write(`${m}\n`);

/** The YAML of FILE, or of stdin for `-`. */
async function readInput(file: string): Promise<string> {
  if (file === '-') return readFileSync(0, 'utf8');
  return await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new SkiffError('ENOTFOUND', `${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { hint: 'give a YAML file, or - to read stdin' });
  });
}

/** Adds the generator as `parent`'s sub-command `name` (`kube generate`, `generate kube`). */
function addGenerate(parent: Command, name: string): void {
  const cmd = parent.command(name).description('generate Kubernetes YAML from containers, pods or volumes')
    .argument('<names...>')
    .option('-s, --service', 'also generate a Kubernetes Service (NodePort) for each pod')
    .option('-f, --filename <file>', 'write the YAML to this file instead of stdout');
  addRootOption(cmd).action(async (names: string[], f: { service?: boolean; filename?: string }) => {
    await withStore(cmd, async (store) => {
      const yaml = await generateKube(store, names, { service: f.service === true });
      // written to a temp file and renamed: never half-written
      if (f.filename !== undefined) await writeFileAtomic(f.filename, yaml, 0o644);
      else process.stdout.write(yaml);
    });
  });
}

interface PlayFlags {
  replace?: boolean; start: boolean; network?: string; configmap: string[]; logDriver?: string; annotation: string[]; quiet?: boolean;
  tlsVerify?: boolean; authfile?: string; creds?: string; certDir?: string; down?: boolean; force?: boolean;
}

async function down(cmd: Command, file: string, force: boolean): Promise<void> {
  const text = await readInput(file);
  await withStore(cmd, async (store) => {
    const r = await downKube(store, text, { force, onWarning: warn });
    const lines: string[] = [];
    if (r.stopped.length > 0) lines.push('Pods stopped:', ...r.stopped);
    if (r.removed.length > 0) lines.push('Pods removed:', ...r.removed);
    if (r.volumes.length > 0) lines.push('Volumes removed:', ...r.volumes);
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  });
}

/** Adds the player as `parent`'s sub-command `name` (`kube play`, `play kube`). */
function addPlay(parent: Command, name: string): void {
  const cmd = parent.command(name).description('play a pod and its containers from Kubernetes YAML')
    .argument('<file>', 'the YAML file, or - for stdin')
    .option('--replace', 'delete and recreate pods that already exist')
    .option('--start [bool]', 'start the pod after creating it', parseBool, true)
    .option('--network <name>', 'connect the pods to this network')
    .option('--configmap <file>', 'a YAML file with ConfigMaps the pods refer to', collect, [])
    .option('--log-driver <driver>', 'logging driver for the containers (k8s-file only)')
    .option('--annotation <k=v>', 'add an annotation to the containers (accepted, not stored)', collect, [])
    .option('-q, --quiet', 'suppress output information when pulling images')
    .option('--down', 'stop and remove what the file created (as kube down)')
    .option('--force', 'with --down: remove the volumes of the file too');
  addRegistryOptions(cmd);
  addRootOption(cmd).action(async (file: string, f: PlayFlags) => {
    if (f.down) return down(cmd, file, f.force === true);
    if (f.logDriver !== undefined && f.logDriver !== 'k8s-file') throw new SkiffError('EUNSUPPORTED', `log driver ${JSON.stringify(f.logDriver)} is not supported: use k8s-file`);
    const text = await readInput(file);
    const configMaps = await Promise.all(f.configmap.flatMap((l) => l.split(',')).map(async (p) => ({ file: p, text: await readInput(p) })));
    await withStore(cmd, async (store) => {
      const r = await playKube(store, text, {
        configMaps,
        replace: f.replace === true,
        start: f.start,
        ...(f.network !== undefined && { network: f.network }),
        registry: registryOptionsOf(f),
        ...(!f.quiet && { log: warn }),
        onWarning: warn,
      });
      const lines: string[] = [];
      for (const p of r.pods) {
        lines.push('Pod:', p.id);
        if (p.containers.length > 0) lines.push(p.containers.length === 1 ? 'Container:' : 'Containers:', ...p.containers);
        lines.push('');
      }
      if (r.volumes.length > 0) lines.push('Volumes:', ...r.volumes);
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    });
  });
}

function addDown(parent: Command): void {
  const cmd = parent.command('down').description('stop and remove the pods a Kubernetes YAML file created')
    .argument('<file>', 'the YAML file, or - for stdin')
    .option('--force', 'remove the named volumes the file created too');
  addRootOption(cmd).action(async (file: string, f: { force?: boolean }) => down(cmd, file, f.force === true));
}

/**
 * Adds `kube generate|play|down` (podman 4.3's) and the older spellings `generate kube` and `play kube`; an
 * existing `generate` command (systemd's) is reused.
 */
export function addKubeCommands(program: Command): void {
  const kube = program.command('kube').description('play and generate Kubernetes YAML');
  addGenerate(kube, 'generate');
  addPlay(kube, 'play');
  addDown(kube);
  const generate = program.commands.find((c) => c.name() === 'generate') ?? program.command('generate').description('generate structured data');
  addGenerate(generate, 'kube');
  addPlay(program.command('play').description('play structured data'), 'kube');
}
