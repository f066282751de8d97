import { Help, type Command } from 'commander';

/** One option as completion and man pages present it. */
export interface OptionEntry {
  /** Every spelling, e.g. ['-e', '--env']. */
  names: string[];
  /** The option takes a value (`<v>` or `[v]`). */
  takesValue: boolean;
  flags: string;
  description: string;
}

/** One command of a tool's table: its path from the program, usage, options and direct subcommands. */
export interface CommandEntry {
  /** Words after the tool name ([] for the program itself). */
  path: string[];
  description: string;
  usage: string;
  options: OptionEntry[];
  subcommands: string[];
}

/**
 * Walks a commander program into a flat, ordered table of its visible commands (depth first, the program first),
 * as commander's own help shows them (hidden commands and options left out; the implicit `help` command in). Pure:
 * reads only the program object, so commands added later are covered without edits here.
 */
export function commandTable(program: Command): CommandEntry[] {
  const help = new Help();
  const out: CommandEntry[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const subs = help.visibleCommands(cmd);
    out.push({
      path,
      description: cmd.description(),
      usage: cmd.usage(),
      options: help.visibleOptions(cmd).map((o) => ({
        names: [o.short, o.long].filter((x): x is string => typeof x === 'string' && x !== ''),
        takesValue: o.required || o.optional,
        flags: o.flags,
        description: o.description,
      })),
      subcommands: subs.flatMap((s) => [s.name(), ...s.aliases()]),
    });
    for (const s of subs) if (s.name() !== 'help' || s.commands.length > 0) walk(s, [...path, s.name()]);
  };
  walk(program, []);
  return out;
}
