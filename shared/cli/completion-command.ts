import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SkiffError } from '../errors.ts';
import { commandTable } from './command-table.ts';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from './completion.ts';
import { manPages } from './man-pages.ts';

declare const SKIFF_VERSION: string;

/** The names addShellCommands adds (registerCommands loads every command module for them). */
export const SHELL_COMMAND_NAMES = ['completion', 'generate-man-pages'] as const;

/**
 * Adds `completion bash|zsh|fish` (podman's command: the script on stdout) and the hidden `generate-man-pages DIR`
 * (one page per command, run by the build). Both read the program's command table when they run, so every
 * command registered by then is covered; an unknown shell is EINVALID.
 */
export function addShellCommands(program: Command, tool: string): void {
  program
    .command('completion')
    .description('generate shell completion scripts')
    .argument('<shell>', `one of ${COMPLETION_SHELLS.join(', ')}`)
    .action((shell: string) => {
      if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) {
        throw new SkiffError('EINVALID', `unknown shell ${JSON.stringify(shell)}: want ${COMPLETION_SHELLS.join(', ')}`);
      }
      process.stdout.write(completionScript(shell as CompletionShell, tool, commandTable(program)));
    });
  program
    .command('generate-man-pages', { hidden: true })
    .description('write one man page per command into DIR')
    .argument('<dir>')
    .action(async (dir: string) => {
      const version = typeof SKIFF_VERSION === 'string' ? SKIFF_VERSION : '0.0.0';
      await mkdir(dir, { recursive: true });
      for (const [name, text] of manPages(tool, version, commandTable(program))) await writeFile(join(dir, name), text);
    });
}
