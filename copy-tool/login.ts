// login/logout live in shared/cli so copy-tool and run-tool share one implementation.
import type { Command } from 'commander';
import { addLoginCommands as addShared } from '../shared/cli/login-command.ts';

/** `login [-u USER] [-p PASS | --password-stdin] [--authfile F] [--tls-verify] [--cert-dir D] REGISTRY` and `logout [--all] [REGISTRY]`. */
export function addLoginCommands(program: Command): void {
  addShared(program, { tool: 'copy-tool' });
}
