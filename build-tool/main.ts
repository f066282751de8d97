// build-tool: builds OCI images from Dockerfiles like `buildah build`. This file only wires arguments to the
// command modules.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { enterUserNamespaceIfNeeded } from '../shared/cli/enter-userns.ts';
import { registerCommands, type CommandModule } from '../shared/cli/lazy-commands.ts';

// An ordinary user's build-tool runs inside the same user namespace as run-tool (buildah's rootless model): RUN
// mounts overlays and runs runc there, and unpacked layers keep their image owners through the subordinate ids.
// Every command that names one goes in (rmi and prune free unpacked layers owned by subordinate ids); help and
// --version do not.
await enterUserNamespaceIfNeeded((command) => command !== undefined && command !== 'help');

const program = createProgram('build-tool', 'Build container images from Dockerfiles, layer by layer, without a daemon');

// Each command's module loads only when that command runs (help loads them all).
const commands: CommandModule[] = [
  { names: ['build', 'bud'], load: async () => (await import('../shared/cli/build-command.ts')).addBuildCommand },
  { names: ['push'], load: async () => (await import('../shared/cli/push-command.ts')).addPushCommand },
  { names: ['images'], load: async () => (await import('../shared/cli/images-command.ts')).addImagesCommand },
  { names: ['tag'], load: async () => (await import('./tag-command.ts')).addTagCommand },
  { names: ['rmi'], load: async () => (await import('./rmi-command.ts')).addRmiCommand },
  { names: ['prune'], load: async () => (await import('./prune-command.ts')).addPruneCommand },
  { names: ['manifest'], load: async () => { const { addManifestCommands } = await import('../shared/cli/manifest-command.ts'); return (p) => addManifestCommands(p, { tool: 'build-tool' }); } },
  { names: ['login', 'logout'], load: async () => { const { addLoginCommands } = await import('../shared/cli/login-command.ts'); return (p) => addLoginCommands(p, { tool: 'build-tool' }); } },
  { names: ['from', 'run', 'copy', 'add', 'config', 'commit', 'containers', 'rm', 'inspect', 'mount', 'umount', 'unmount'], load: async () => (await import('./working-commands.ts')).addWorkingCommands },
  { names: ['pull', 'info', 'version'], load: async () => (await import('./host-commands.ts')).addHostCommands },
];
await registerCommands(program, commands, process.argv.slice(2));

await runProgram('build-tool', program);
