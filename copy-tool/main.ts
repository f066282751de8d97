// copy-tool: skopeo's job (inspect, copy, sync, delete, list-tags, login, sign, verify) over the shared library.
// This file only wires arguments to library calls.
import { createProgram, runProgram } from '../shared/cli/program.ts';

const program = createProgram('copy-tool', 'Inspect, copy, sync and delete container images across registries, OCI layouts, archives and the local store');

await runProgram('copy-tool', program);
