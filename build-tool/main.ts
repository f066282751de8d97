// build-tool: builds OCI images from Dockerfiles like `buildah build`. This file only wires arguments to the
// command modules.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { addImagesCommand } from '../shared/cli/images-command.ts';
import { addBuildCommand } from './build-command.ts';
import { addPushCommand } from './push-command.ts';
import { addTagCommand } from './tag-command.ts';
import { addRmiCommand } from './rmi-command.ts';
import { addPruneCommand } from './prune-command.ts';

const program = createProgram('build-tool', 'Build container images from Dockerfiles, layer by layer, without a daemon');

addBuildCommand(program);
addPushCommand(program);
addImagesCommand(program);
addTagCommand(program);
addRmiCommand(program);
addPruneCommand(program);

await runProgram('build-tool', program);
