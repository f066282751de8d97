// run-tool: podman run's job, daemonless containers from the local store through runc.
// This file only wires arguments to library calls.
import { createProgram, runProgram } from '../shared/cli/program.ts';

const program = createProgram('run-tool', 'Run containers from the local store through runc, without a daemon');

await runProgram('run-tool', program);
