// run-tool: podman run's job, daemonless containers from the local store through runc.
// This file only wires arguments to library calls.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { addImagesCommand } from '../shared/cli/images-command.ts';
import { addImportCommand } from './import-command.ts';
import { addNetworkCommand } from './network.ts';

const program = createProgram('run-tool', 'Run containers from the local store through runc, without a daemon');

addImagesCommand(program);
addImportCommand(program);
addNetworkCommand(program);

await runProgram('run-tool', program);
