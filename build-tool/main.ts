// build-tool: builds OCI images from Dockerfiles like `buildah build`. This file only wires arguments to library calls.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { addImagesCommand } from '../shared/cli/images-command.ts';

const program = createProgram('build-tool', 'Build container images from Dockerfiles, layer by layer, without a daemon');

addImagesCommand(program);

await runProgram('build-tool', program);
