import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { collect } from '../../shared/cli/flags.ts';
import { addRootOption, VERSION } from '../../shared/cli/program.ts';
import { SkiffError } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/store/atomic.ts';
import { selfCommand } from '../containers/runc-handle.ts';
import { generateSystemd } from '../ops/generate-systemd.ts';
import { withStore } from './cli-util.ts';
import { addCreateFlags } from './create-flags.ts';
import { addPodCreateCommand } from './pod/create.ts';

interface GenerateSystemdFlags {
  new?: boolean; name?: boolean; files?: boolean; restartPolicy?: string; restartSec?: string; stopTimeout?: string; time?: string; startTimeout?: string;
  containerPrefix: string; podPrefix: string; separator: string; after: string[]; wants: string[]; requires: string[]; env: string[];
  template?: boolean; noHeader?: boolean; format?: string;
}

/** Whether `flag` of `cmd` takes a value in the next word (commander's required-value options; `--root` always). */
export function takesValueOf(cmd: Command): (flag: string) => boolean {
  return (flag) => flag === '--root' || cmd.options.some((o) => (o.long === flag || o.short === flag) && o.required);
}

/** `date`'s default form in UTC (Go's time.UnixDate, podman's header timestamp): `Mon Dec  7 01:34:21 UTC 2026`. Pure. */
export function unixDate(d: Date): string {
  // toUTCString: `Mon, 07 Dec 2026 01:34:21 GMT`
  const [wd, , mon] = d.toUTCString().split(' ');
  const t = d.toISOString().slice(11, 19);
  return `${wd!.slice(0, 3)} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${t} UTC ${d.getUTCFullYear()}`;
}

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SkiffError('EINVALID', `invalid ${flag} ${JSON.stringify(v)}: expected a number of seconds`);
  return n;
}

/** `--env` entries as KEY=VALUE (a bare KEY takes this process's value, as podman; unset → dropped). */
function envEntries(list: readonly string[]): string[] {
  return list.flatMap((e) => (e.includes('=') ? [e] : process.env[e] !== undefined ? [`${e}=${process.env[e]}`] : []));
}

/**
 * Adds `generate systemd [flags] CONTAINER|POD` (podman's): prints the units (sorted by name, each followed by a
 * blank line), or with `--files` writes `<name>.service` into the working directory (temp file, rename) and
 * prints their paths; `--format json` prints name → unit (or → path).
 */
export function addGenerateCommand(program: Command): void {
  // `generate kube` lives in kube.ts: whichever module loads first makes the group, the other reuses it
  const gen = program.commands.find((c) => c.name() === 'generate') ?? program.command('generate').description('generate structured data based on containers and pods');
  const cmd = gen.command('systemd').description('generate systemd units').argument('<container-or-pod>')
    .option('--new', 'create a new container or pod instead of starting an existing one')
    .option('-n, --name', 'use container/pod names instead of IDs')
    .option('-f, --files', 'generate .service files instead of printing to stdout')
    .option('--restart-policy <policy>', 'systemd restart-policy')
    .option('--restart-sec <seconds>', 'systemd RestartSec')
    .option('-t, --stop-timeout <seconds>', 'stop timeout override')
    .option('--time <seconds>', 'stop timeout override (deprecated spelling)')
    .option('--start-timeout <seconds>', 'start timeout override')
    .option('--container-prefix <prefix>', 'systemd unit name prefix for containers', 'container')
    .option('--pod-prefix <prefix>', 'systemd unit name prefix for pods', 'pod')
    .option('--separator <sep>', 'systemd unit name separator between name/id and prefix', '-')
    .option('--after <unit>', 'add dependencies order to the generated unit file', collect, [] as string[])
    .option('--wants <unit>', 'add (weak) requirement dependencies to the generated unit file', collect, [] as string[])
    .option('--requires <unit>', 'add (strong) requirement dependencies to the generated unit file', collect, [] as string[])
    .option('-e, --env <env>', 'environment variables for the systemd unit files', collect, [] as string[])
    .option('--template', 'make it a template file and use %i and %I specifiers')
    .option('--no-header', 'skip header generation')
    .option('--format <format>', 'print the created units in the specified format (json)');
  addRootOption(cmd).action(async (target: string, f: GenerateSystemdFlags) => {
    if (f.format !== undefined && f.format !== 'json') throw new SkiffError('EINVALID', `unsupported format ${JSON.stringify(f.format)}: only json is supported`);
    const runCmd = addCreateFlags(new Command('run').option('-d, --detach'));
    const podParent = new Command('pod');
    addPodCreateCommand(podParent, []);
    const podCreate = podParent.commands.find((c) => c.name() === 'create')!;
    const stopTimeout = seconds(f.stopTimeout ?? f.time, '--stop-timeout');
    const restartSec = seconds(f.restartSec, '--restart-sec');
    const startTimeout = seconds(f.startTimeout, '--start-timeout');
    await withStore(cmd, async (store) => {
      const units = await generateSystemd(store, target, {
        ...(f.new && { new: true }),
        ...(f.name && { useName: true }),
        ...(f.restartPolicy !== undefined && { restartPolicy: f.restartPolicy }),
        ...(restartSec !== undefined && { restartSec }),
        ...(stopTimeout !== undefined && { stopTimeout }),
        ...(startTimeout !== undefined && { startTimeout }),
        containerPrefix: f.containerPrefix,
        podPrefix: f.podPrefix,
        separator: f.separator,
        after: f.after,
        wants: f.wants,
        requires: f.requires,
        env: envEntries(f.env),
        ...(f.template && { template: true }),
        // commander's --no-header sets header: false
        ...((f as { header?: boolean }).header === false && { noHeader: true }),
        timestamp: unixDate(new Date()),
        executable: selfCommand(),
        runTakesValue: takesValueOf(runCmd),
        podCreateTakesValue: takesValueOf(podCreate),
        version: VERSION,
      });
      const names = [...units.keys()].sort();
      const shown: Record<string, string> = {};
      for (const n of names) {
        if (f.files) {
          const path = resolve(join(process.cwd(), `${n}${f.template ? '@' : ''}.service`));
          await writeFileAtomic(path, units.get(n)!);
          shown[n] = path;
        } else shown[n] = units.get(n)!;
      }
      if (f.format === 'json') process.stdout.write(`${JSON.stringify(shown, null, 4)}\n`);
      else for (const n of names) process.stdout.write(`${shown[n]}\n`);
    });
  });
}
