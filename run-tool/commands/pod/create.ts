import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { addRootOption } from '../../../shared/cli/program.ts';
import { collect, goBool } from '../../../shared/cli/flags.ts';
import { parseByteSize } from '../../../shared/cli/units.ts';
import { SkiffError } from '../../../shared/errors.ts';
import type { MountRequest } from '../../../shared/runtime/mounts.ts';
import { parsePublishFlags } from '../../containers/net-wiring.ts';
import { parseVolume } from '../create-flags.ts';
import { createPod, parseShare } from '../../ops/pods.ts';
import { withStore } from '../cli-util.ts';

/** Raw `pod create` flags. */
interface PodCreateFlags {
  name?: string; publish: string[]; share?: string; shareParent?: string | true; infra: string; infraImage?: string; infraName?: string;
  infraCommand?: string; infraConmonPidfile?: string; exitPolicy: string; hostname?: string; network?: string; addHost: string[]; dns: string[];
  label: string[]; labelFile: string[]; replace?: boolean; podIdFile?: string; userns?: string; memory?: string; cpus?: string; shmSize?: string; volume: string[];
}

function labelsOf(f: PodCreateFlags): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = [...f.labelFile.flatMap((p) => readFileSync(p, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))), ...f.label];
  for (const l of lines) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

/**
 * Adds `pod create` (podman 4.3's flags and defaults): prints the new pod's full ID (and writes it to
 * `--pod-id-file`). Names must be DNS-1123 labels; the infra image is built locally unless `--infra-image` names one.
 */
export function addPodCreateCommand(pod: Command, argv: readonly string[]): void {
  const cmd = pod.command('create').description('create a new empty pod').argument('[name]')
    .option('-n, --name <name>', 'assign a name to the pod')
    .option('-p, --publish <spec>', "publish a container's port, or a range of ports, to the host", collect, [])
    .option('--share <namespaces>', 'a comma-delimited list of kernel namespaces the pod will share (ipc, net, pid, uts, cgroup, none; +NS adds)')
    .option('--share-parent [bool]', 'set the pod cgroup as the cgroup parent of its members (default true)')
    .option('--infra <bool>', 'create an infra container associated with the pod to share namespaces with', 'true')
    .option('--infra-image <image>', 'the image of the infra container (default: built locally from catatonit)')
    .option('--infra-name <name>', 'the name used for the infra container')
    .option('--infra-command <cmd>', 'the command to run on the infra container when the pod is started')
    .option('--infra-conmon-pidfile <file>', 'path to the file that will receive the PID of the infra container conmon')
    .option('--exit-policy <policy>', 'behaviour when the last container exits: continue or stop', 'continue')
    .option('--hostname <name>', 'set a hostname to the pod')
    .option('--network <mode>', 'network mode of the pod (as run --network)')
    .option('--add-host <host:ip>', 'add a custom host-to-IP mapping', collect, [])
    .option('--dns <ip>', 'set custom DNS servers', collect, [])
    .option('-l, --label <k=v>', 'set metadata on the pod', collect, [])
    .option('--label-file <file>', 'read in a line delimited file of labels', collect, [])
    .option('--replace', 'if a pod with the same name exists, replace it')
    .option('--pod-id-file <file>', 'write the pod ID to the file')
    .option('--userns <mode>', 'user namespace of the pod (host only)')
    .option('-m, --memory <limit>', "memory limit of the pod's cgroup, shared by its containers (format: <number>[<unit>], where unit = b, k, m or g)")
    .option('--cpus <n>', "number of CPUs of the pod's cgroup, shared by its containers")
    .option('--shm-size <size>', 'size of /dev/shm of the infra container, used by the containers sharing its IPC namespace')
    .option('-v, --volume <spec>', 'bind mount a volume into every container of the pod: SRC:DST[:OPTS]', collect, []);
  addRootOption(cmd).action(async (nameArg: string | undefined, f: PodCreateFlags) => {
    if (nameArg !== undefined && f.name !== undefined) throw new SkiffError('EINVALID', 'cannot specify --name and a name argument');
    const infra = goBool(f.infra);
    if (infra === undefined) throw new SkiffError('EINVALID', `invalid --infra ${JSON.stringify(f.infra)}: want true or false`);
    if (f.exitPolicy !== 'continue' && f.exitPolicy !== 'stop') throw new SkiffError('EINVALID', `invalid pod exit policy: "${f.exitPolicy}"`);
    if (f.userns !== undefined && f.userns !== '' && f.userns !== 'host') throw new SkiffError('EINVALID', `--userns ${f.userns} is not supported for pods: use host`);
    const memory = f.memory === undefined ? undefined : parseByteSize(f.memory, '--memory');
    const cpus = f.cpus === undefined ? undefined : Number(f.cpus);
    if (cpus !== undefined && (!Number.isFinite(cpus) || cpus <= 0 || f.cpus!.trim() === '')) throw new SkiffError('EINVALID', `invalid --cpus ${JSON.stringify(f.cpus)}: want a positive number of CPUs, e.g. 0.5`);
    const shareParent = f.shareParent === undefined || f.shareParent === true ? true : goBool(f.shareParent);
    if (shareParent === undefined) throw new SkiffError('EINVALID', `invalid --share-parent ${JSON.stringify(f.shareParent)}: want true or false`);
    const shmSize = f.shmSize === undefined ? undefined : parseByteSize(f.shmSize, '--shm-size');
    if (shmSize !== undefined && !infra) throw new SkiffError('EINVALID', 'cannot set --shm-size without an infra container: /dev/shm of a pod is its infra container\'s');
    if (!infra && (f.infraImage !== undefined || f.infraCommand !== undefined || f.infraName !== undefined || f.infraConmonPidfile !== undefined)) {
      throw new SkiffError('EINVALID', 'cannot set infra options (--infra-image, --infra-command, --infra-name, --infra-conmon-pidfile) without an infra container');
    }
    const share = f.share === undefined ? undefined : parseShare(f.share);
    const mounts: MountRequest[] = [];
    const volumes: { name: string; destination: string; options: string[] }[] = [];
    for (const v of f.volume) {
      const r = parseVolume(v);
      if (r.mount) mounts.push(r.mount);
      if (r.volume) {
        if (r.volume.name === '') throw new SkiffError('EINVALID', `invalid pod volume ${JSON.stringify(v)}: anonymous volumes cannot be shared; name the volume (NAME:${r.volume.destination})`);
        volumes.push(r.volume);
      }
    }
    const name = nameArg ?? f.name;
    await withStore(cmd, async (store) => {
      const r = await createPod(store, {
        ...(name !== undefined && { name }),
        labels: labelsOf(f),
        ...(share && { share }),
        infra,
        ...(f.infraImage !== undefined && { infraImage: f.infraImage }),
        ...(f.infraName !== undefined && { infraName: f.infraName }),
        ...(f.infraConmonPidfile !== undefined && { infraConmonPidFile: f.infraConmonPidfile }),
        ...(f.infraCommand !== undefined && { infraCommand: f.infraCommand.trim().startsWith('[') ? (JSON.parse(f.infraCommand) as string[]) : [f.infraCommand] }),
        exitPolicy: f.exitPolicy as 'continue' | 'stop',
        ...(f.hostname !== undefined && { hostname: f.hostname }),
        ...(f.network !== undefined && { network: f.network }),
        ports: parsePublishFlags(f.publish),
        addHosts: f.addHost,
        dns: f.dns,
        mounts,
        volumes,
        ...(memory !== undefined && { memory }),
        ...(cpus !== undefined && { cpus }),
        ...(shmSize !== undefined && { shmSize }),
        ...(!shareParent && { shareParent: false }),
        replace: f.replace === true,
        createCommand: [...argv],
        onWarning: (m) => void process.stderr.write(`${m}\n`),
      });
      if (f.podIdFile !== undefined) writeFileSync(f.podIdFile, r.id);
      process.stdout.write(`${r.id}\n`);
    });
  });
}
