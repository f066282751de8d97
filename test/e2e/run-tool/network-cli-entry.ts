// A run-tool with only the network commands, for the CLI tests (run-tool/main.ts is the lead's).
import { createProgram, runProgram } from '../../../shared/cli/program.ts';
import { addNetworkCommand } from '../../../run-tool/commands/network.ts';

const program = createProgram('run-tool', 'network commands under test');
addNetworkCommand(program);
await runProgram('run-tool', program);
