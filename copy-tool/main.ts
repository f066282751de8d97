// copy-tool: skopeo's job (inspect, copy, sync, delete, list-tags, login, logout) over the shared library.
// This file only wires arguments to the command modules.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { addInspectCommand } from './inspect.ts';
import { addCopyCommand } from './copy.ts';
import { addSyncCommand } from './sync.ts';
import { addDeleteCommand } from './delete.ts';
import { addListTagsCommand } from './list-tags.ts';
import { addManifestDigestCommand } from './manifest-digest.ts';
import { addLoginCommands } from './login.ts';
import { addStandaloneSignCommand } from './standalone-sign.ts';
import { addStandaloneVerifyCommand } from './standalone-verify.ts';
import { addGenerateSigstoreKeyCommand } from './generate-sigstore-key.ts';

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

addInspectCommand(program);
addCopyCommand(program);
addSyncCommand(program);
addDeleteCommand(program);
addListTagsCommand(program);
addManifestDigestCommand(program);
addLoginCommands(program);
addStandaloneSignCommand(program);
addStandaloneVerifyCommand(program);
addGenerateSigstoreKeyCommand(program);

await runProgram('copy-tool', program);
