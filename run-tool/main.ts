// run-tool: podman run's job, daemonless containers from the local store through runc.
// This file only wires arguments to the command modules.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { enterUserNamespaceIfNeeded } from '../shared/cli/enter-userns.ts';
import { registerCommands, type CommandModule } from '../shared/cli/lazy-commands.ts';

// An ordinary user's run-tool continues inside a user namespace mapping them to root plus their subordinate ids
// (as podman does, for every command); root, or a process already inside, goes straight on.
await enterUserNamespaceIfNeeded(() => true);

const program = createProgram('run-tool', 'Run containers from the local store through runc, without a daemon');

// Each command's module loads only when that command runs (help loads them all): `run` must not pay for the
// registry client, transports or signing code at start-up.
const commands: CommandModule[] = [
  { names: ['run'], load: async () => (await import('./commands/run.ts')).addRunCommand },
  { names: ['create'], load: async () => (await import('./commands/create.ts')).addCreateCommand },
  { names: ['start'], load: async () => (await import('./commands/start.ts')).addStartCommand },
  { names: ['stop'], load: async () => (await import('./commands/stop.ts')).addStopCommand },
  { names: ['kill'], load: async () => (await import('./commands/kill.ts')).addKillCommand },
  { names: ['restart'], load: async () => (await import('./commands/restart.ts')).addRestartCommand },
  { names: ['rm'], load: async () => (await import('./commands/rm.ts')).addRmCommand },
  { names: ['ps'], load: async () => (await import('./commands/ps.ts')).addPsCommand },
  { names: ['logs'], load: async () => (await import('./commands/logs.ts')).addLogsCommand },
  { names: ['wait'], load: async () => (await import('./commands/wait.ts')).addWaitCommand },
  { names: ['inspect'], load: async () => (await import('./commands/inspect.ts')).addInspectCommand },
  { names: ['exec'], load: async () => (await import('./commands/exec.ts')).addExecCommand },
  { names: ['top'], load: async () => (await import('./commands/top.ts')).addTopCommand },
  { names: ['stats'], load: async () => (await import('./commands/stats.ts')).addStatsCommand },
  { names: ['port'], load: async () => (await import('./commands/port.ts')).addPortCommand },
  { names: ['cp'], load: async () => (await import('./commands/cp.ts')).addCpCommand },
  { names: ['commit'], load: async () => (await import('./commands/commit.ts')).addCommitCommand },
  { names: ['healthcheck'], load: async () => (await import('./commands/healthcheck.ts')).addHealthcheckCommand },
  { names: ['pull'], load: async () => (await import('./commands/pull.ts')).addPullCommand },
  { names: ['images'], load: async () => (await import('../shared/cli/images-command.ts')).addImagesCommand },
  { names: ['rmi'], load: async () => (await import('./commands/rmi.ts')).addRmiCommand },
  { names: ['tag', 'untag'], load: async () => (await import('./commands/tag.ts')).addTagCommands },
  { names: ['save'], load: async () => (await import('./commands/save.ts')).addSaveCommand },
  { names: ['load'], load: async () => (await import('./commands/load.ts')).addLoadCommand },
  { names: ['import'], load: async () => (await import('./commands/import-command.ts')).addImportCommand },
  { names: ['volume'], load: async () => (await import('./commands/volume.ts')).addVolumeCommands },
  { names: ['network'], load: async () => (await import('./commands/network.ts')).addNetworkCommand },
  { names: ['info'], load: async () => (await import('./commands/info.ts')).addInfoCommand },
  { names: ['kube', 'generate', 'play'], load: async () => (await import('./commands/kube.ts')).addKubeCommands },
  { names: ['pod'], load: async () => (await import('./commands/pod/index.ts')).addPodCommands },
  { names: ['generate'], load: async () => (await import('./commands/generate.ts')).addGenerateCommand },
  { names: ['auto-update'], load: async () => (await import('./commands/auto-update.ts')).addAutoUpdateCommand },
  { names: ['systemd-generator'], load: async () => (await import('./commands/systemd-generator.ts')).addSystemdGeneratorCommand },
  { names: ['container-cleanup'], load: async () => (await import('./commands/container-cleanup.ts')).addContainerCleanupCommand },
  { names: ['login', 'logout'], load: async () => { const { addLoginCommands } = await import('../shared/cli/login-command.ts'); return (p) => addLoginCommands(p, { tool: 'run-tool' }); } },
  { names: ['diff'], load: async () => (await import('./commands/diff.ts')).addDiffCommand },
  { names: ['export'], load: async () => (await import('./commands/export.ts')).addExportCommand },
  { names: ['history'], load: async () => (await import('./commands/history.ts')).addHistoryCommand },
  { names: ['volume'], load: async () => (await import('./commands/volume-archive.ts')).addVolumeArchiveCommands },
  { names: ['network'], load: async () => (await import('./commands/network-prune.ts')).addNetworkPruneCommands },
  { names: ['container', 'image'], load: async () => (await import('./commands/exists.ts')).addExistsCommands },
  { names: ['secret'], load: async () => (await import('./commands/secret.ts')).addSecretCommands },
  { names: ['mount', 'unmount', 'umount'], load: async () => (await import('./commands/mount.ts')).addMountCommands },
  { names: ['version'], load: async () => (await import('./commands/version.ts')).addVersionCommand },
  { names: ['events'], load: async () => (await import('./commands/events.ts')).addEventsCommand },
  { names: ['pause', 'unpause'], load: async () => (await import('./commands/pause.ts')).addPauseCommands },
  { names: ['init'], load: async () => (await import('./commands/init.ts')).addInitCommand },
  { names: ['attach'], load: async () => (await import('./commands/attach.ts')).addAttachCommand },
  { names: ['image-prune'], load: async () => (await import('./commands/image-prune.ts')).addImagePruneCommand },
  {
    names: ['container', 'image'],
    load: async () => {
      const [{ addGroupCommands }, { RUN_TOOL_GROUPS }] = await Promise.all([import('../shared/cli/command-groups.ts'), import('./commands/groups.ts')]);
      return (p) => addGroupCommands(p, 'run-tool', RUN_TOOL_GROUPS, new Set(commands.flatMap((c) => c.names)));
    },
  },
  { names: ['build'], load: async () => (await import('../shared/cli/build-command.ts')).addBuildCommand },
  { names: ['push'], load: async () => (await import('../shared/cli/push-command.ts')).addPushCommand },
  { names: ['manifest'], load: async () => { const { addManifestCommands } = await import('../shared/cli/manifest-command.ts'); return (p) => addManifestCommands(p, { tool: 'run-tool' }); } },
  { names: ['rename'], load: async () => (await import('./commands/rename.ts')).addRenameCommand },
  // last: it reuses a `system` command if one exists
  {
    names: ['system', 'prune'],
    load: async () => {
      const [prune, check, service, df, reset] = await Promise.all([import('./commands/system-prune.ts'), import('./commands/system-check.ts'), import('./commands/system-service.ts'), import('./commands/system-df.ts'), import('./commands/system-reset.ts')]);
      return (p) => {
        prune.addSystemPruneCommand(p);
        check.addSystemCheckCommand(p);
        service.addSystemServiceCommand(p);
        df.addSystemDfCommand(p);
        reset.addSystemResetCommand(p);
      };
    },
  },
];
// `container ls`, `image rm`…: podman's groups run the top-level command they stand for (commands/groups.ts)
const { rewriteGroupArgs } = await import('../shared/cli/command-groups.ts');
const { RUN_TOOL_GROUPS } = await import('./commands/groups.ts');
const args = rewriteGroupArgs(process.argv.slice(2), RUN_TOOL_GROUPS, new Set(commands.flatMap((c) => c.names)));
await registerCommands(program, commands, args);

await runProgram('run-tool', program, [...process.argv.slice(0, 2), ...args]);
