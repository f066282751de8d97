// run-tool: podman run's job, daemonless containers from the local store through runc.
// This file only wires arguments to the command modules.
import { createProgram, runProgram } from '../shared/cli/program.ts';
import { reexecInUserNamespace } from '../shared/runtime/userns.ts';
import { defaultStoreRoot } from '../shared/store/paths.ts';
import { addImagesCommand } from '../shared/cli/images-command.ts';
import { addLoginCommands } from '../shared/cli/login-command.ts';
import { addImportCommand } from './import-command.ts';
import { addNetworkCommand } from './network.ts';
import { addRunCommand } from './run.ts';
import { addCreateCommand } from './create.ts';
import { addStartCommand } from './start.ts';
import { addStopCommand } from './stop.ts';
import { addKillCommand } from './kill.ts';
import { addRestartCommand } from './restart.ts';
import { addRmCommand } from './rm.ts';
import { addPsCommand } from './ps.ts';
import { addLogsCommand } from './logs.ts';
import { addWaitCommand } from './wait.ts';
import { addInspectCommand } from './inspect.ts';
import { addExecCommand } from './exec.ts';
import { addTopCommand } from './top.ts';
import { addPortCommand } from './port.ts';
import { addContainerCleanupCommand } from './container-cleanup.ts';
import { addPullCommand } from './pull.ts';
import { addRmiCommand } from './rmi.ts';
import { addTagCommands } from './tag.ts';
import { addSaveCommand } from './save.ts';
import { addLoadCommand } from './load.ts';
import { addVolumeCommands } from './volume.ts';
import { addInfoCommand } from './info.ts';
import { addSystemPruneCommand } from './system-prune.ts';
import { addCommitCommand } from './commit.ts';
import { addCpCommand } from './cp.ts';
import { addHealthcheckCommand } from './healthcheck.ts';

// An ordinary user's run-tool continues inside a user namespace mapping them to root plus their subordinate ids
// (as podman does); root, or a process already inside, goes straight on.
const nsCode = await reexecInUserNamespace({ defaultStoreRoot });
if (nsCode !== undefined) process.exit(nsCode);

const program = createProgram('run-tool', 'Run containers from the local store through runc, without a daemon');

for (const add of [
  addRunCommand,
  addCreateCommand,
  addStartCommand,
  addStopCommand,
  addKillCommand,
  addRestartCommand,
  addRmCommand,
  addPsCommand,
  addLogsCommand,
  addWaitCommand,
  addInspectCommand,
  addExecCommand,
  addTopCommand,
  addPortCommand,
  addCpCommand,
  addCommitCommand,
  addHealthcheckCommand,
  addPullCommand,
  addImagesCommand,
  addRmiCommand,
  addTagCommands,
  addSaveCommand,
  addLoadCommand,
  addImportCommand,
  addVolumeCommands,
  addNetworkCommand,
  addInfoCommand,
  addContainerCleanupCommand,
]) {
  add(program);
}
addLoginCommands(program, { tool: 'run-tool' });
addSystemPruneCommand(program); // last: it reuses a `system` command if one exists

await runProgram('run-tool', program);
