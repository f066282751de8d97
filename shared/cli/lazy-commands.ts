import type { Command } from 'commander';

/** Registers one or more commands on a program. */
export type AddCommands = (program: Command) => void;

/** A group of commands one module registers: the names it adds and how to load its registrar. */
export interface CommandModule {
  names: readonly string[];
  load: () => Promise<AddCommands>;
}

/**
 * The command name in `args` (argv after the script): the first word that is not a global option, skipping the
 * values of the global options in `withValue` (e.g. `--root DIR`). Undefined for help, version, or no command.
 */
export function commandNameOf(args: readonly string[], withValue: ReadonlySet<string> = new Set(['--root'])): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (withValue.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}

/**
 * Registers the commands of `modules` on `program`, in order. When `args` names a command some modules provide,
 * only those modules are loaded (start-up reads only what the command needs); otherwise (help, unknown command, no
 * command) every module is loaded (none for a bare `--version`), so help lists everything and commander reports unknown commands as usual;
 * then `completion` and the hidden `generate-man-pages` are added, which read the table of everything loaded.
 */
export async function registerCommands(program: Command, modules: readonly CommandModule[], args: readonly string[]): Promise<void> {
  const withValue = new Set<string>();
  for (const o of program.options) {
    if (!o.required && !o.optional) continue;
    if (o.long) withValue.add(o.long);
    if (o.short) withValue.add(o.short);
  }
  const name = commandNameOf(args, withValue);
  // `--version` alone needs no command at all
  if (name === undefined && args.some((a) => a === '-v' || a === '--version')) return;
  // a command group two modules add to (`generate kube`, `generate systemd`) loads both, in order
  const some = name === undefined || name === 'help' ? [] : modules.filter((m) => m.names.includes(name));
  const adders = await Promise.all((some.length > 0 ? some : modules).map((m) => m.load()));
  for (const add of adders) add(program);
  // `completion` and the man page generator read the whole table, so they come when every module is loaded
  if (some.length === 0) (await import('./completion-command.ts')).addShellCommands(program, program.name());
}
