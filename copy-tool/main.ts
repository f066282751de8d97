// copy-tool: skopeo's job (inspect, copy, sync, delete, list-tags, login, logout) over the shared library.
// This file only wires arguments to the command modules.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { enterUserNamespaceIfNeeded } from '../shared/cli/enter-userns.ts';
import { registerCommands, type CommandModule } from '../shared/cli/lazy-commands.ts';

// As skopeo with containers-storage:, an ordinary user's copy-tool enters the user namespace run-tool and
// build-tool use only when an operand is the local store (`store:`), which opening for writing may tidy (stale
// temporaries of unpacks are owned by subordinate ids); registries, layouts and archives need no namespace.
await enterUserNamespaceIfNeeded((_command, args) => args.some((a) => a.startsWith('store:')));

const program = createProgram('copy-tool', 'Inspect, copy, sync and delete container images across registries, OCI layouts, archives and the local store')
  .option('--debug', 'enable debug output (credentials are never printed)')
  .option('--command-timeout <duration>', 'timeout for the command execution, e.g. 90s or 5m')
  .option('--registries-conf <path>', 'use registries.conf at PATH')
  .option('--override-os <os>', 'use OS instead of the running OS for choosing images')
  .option('--override-arch <arch>', 'use ARCH instead of the architecture of the machine for choosing images')
  .option('--override-variant <variant>', 'use VARIANT instead of the running architecture variant for choosing images')
  .option('--tmpdir <path>', 'directory used to store temporary files')
  .option('--policy <path>', 'path to a trust policy file (default $HOME/.config/containers/policy.json, /etc/containers/policy.json)')
  .option('--insecure-policy', 'run the tool without any policy check')
  .option('--registries.d <dir>', 'use registry configuration files in DIR (e.g. for signature storage)');

// Each command's module loads only when that command runs (help loads them all).
const commands: CommandModule[] = [
  { names: ['inspect'], load: async () => (await import('./inspect.ts')).addInspectCommand },
  { names: ['copy'], load: async () => (await import('./copy.ts')).addCopyCommand },
  { names: ['sync'], load: async () => (await import('./sync.ts')).addSyncCommand },
  { names: ['delete'], load: async () => (await import('./delete.ts')).addDeleteCommand },
  { names: ['list-tags'], load: async () => (await import('./list-tags.ts')).addListTagsCommand },
  { names: ['manifest-digest'], load: async () => (await import('./manifest-digest.ts')).addManifestDigestCommand },
  { names: ['login', 'logout'], load: async () => (await import('./login.ts')).addLoginCommands },
  { names: ['standalone-sign'], load: async () => (await import('./standalone-sign.ts')).addStandaloneSignCommand },
  { names: ['standalone-verify'], load: async () => (await import('./standalone-verify.ts')).addStandaloneVerifyCommand },
  { names: ['generate-sigstore-key'], load: async () => (await import('./generate-sigstore-key.ts')).addGenerateSigstoreKeyCommand },
];
await registerCommands(program, commands, process.argv.slice(2));

await runProgram('copy-tool', program);
