import type { Command } from 'commander';
import { SkiffError } from '../errors.ts';
import { commandNameOf } from './lazy-commands.ts';

/**
 * A command group podman has (`container`, `image`): `tool GROUP SUB ARGS` runs the top-level command SUB maps to.
 * `members` are the subcommand names podman's group has; `renames` maps a subcommand to the argv that replaces it
 * (`ls` → `ps`, `rm` → `rmi`, `inspect` → `inspect --type image`). A member with no rename runs the top-level
 * command of the same name.
 */
export interface CommandGroup {
  description: string;
  members: readonly string[];
  renames?: Readonly<Record<string, readonly string[]>>;
}

/** What `GROUP SUB` becomes, when SUB is a member whose target the tool has (`known`: the command table's names). Pure. */
export function groupTarget(group: CommandGroup, sub: string, known: ReadonlySet<string>): string[] | undefined {
  if (!group.members.includes(sub)) return undefined;
  const to = group.renames?.[sub] ?? [sub];
  return known.has(to[0]!) ? [...to] : undefined;
}

/**
 * Rewrites `args` (argv after the script) so `GROUP SUB …` becomes the top-level command SUB maps to, keeping the
 * global options before it. Anything else (another command, an unknown SUB, a bare GROUP) is returned unchanged.
 * Pure.
 */
export function rewriteGroupArgs(args: readonly string[], groups: Readonly<Record<string, CommandGroup>>, known: ReadonlySet<string>, withValue: ReadonlySet<string> = new Set(['--root'])): string[] {
  const name = commandNameOf(args, withValue);
  const group = name === undefined ? undefined : groups[name];
  if (!group) return [...args];
  // the command word's own position (an option value before it may spell the same word)
  const at = args.findIndex((a, i) => a === name && commandNameOf(args.slice(0, i + 1), withValue) === name);
  const sub = args[at + 1];
  const target = sub === undefined ? undefined : groupTarget(group, sub, known);
  if (!target) return [...args];
  return [...args.slice(0, at), ...target, ...args.slice(at + 2)];
}

/**
 * Adds each group as a command (reusing one another module made, whose own subcommands still run): its help lists
 * the members the tool has; with no subcommand it fails as podman does (`missing command 'TOOL GROUP COMMAND'`,
 * the tool's usage exit), and an unknown one with `unrecognized command`.
 */
export function addGroupCommands(program: Command, tool: string, groups: Readonly<Record<string, CommandGroup>>, known: ReadonlySet<string>): void {
  for (const [name, g] of Object.entries(groups)) {
    const cmd = program.commands.find((c) => c.name() === name) ?? program.command(name).description(g.description);
    const subs = g.members.filter((m) => groupTarget(g, m, known)).map((m) => `  ${m.padEnd(12)} ${(g.renames?.[m] ?? [m]).join(' ')}`);
    cmd.addHelpText('after', `\nCommands (each runs \`${tool} TARGET\`):\n${subs.join('\n')}\n`);
    if (cmd.commands.length > 0) continue; // another module's group: commander dispatches its own subcommands
    cmd.argument('[command]').allowUnknownOption().allowExcessArguments(true).action((sub?: string) => {
      if (sub === undefined) throw new SkiffError('EINVALID', `missing command '${tool} ${name} COMMAND'`, { hint: `run '${tool} ${name} --help' for the commands` });
      throw new SkiffError('EINVALID', `unrecognized command \`${tool} ${name} ${sub}\``, { hint: `run '${tool} ${name} --help' for the commands` });
    });
  }
}
