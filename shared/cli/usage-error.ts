import type { Command, CommanderError } from 'commander';

/** What to print for a command-line usage error, and where. */
export interface UsageReport {
  /** Lines for stderr, each ending in a newline. */
  stderr: string;
  /** Text for stdout (the usage of a command group named without a subcommand, as podman prints it). */
  stdout: string;
}

/** True when `arg` names one of `cmd`'s options that takes a value in the next argument (`--root DIR`). */
function takesValue(cmd: Command, arg: string): boolean {
  if (arg.includes('=')) return false;
  return cmd.options.some((o) => (o.required || o.optional) && (o.long === arg || o.short === arg));
}

/**
 * The commands `args` (argv after the script) walks down from `program`: the program itself first, then each
 * subcommand named in turn (by name or alias). Options and their values are skipped; the first word that names no
 * subcommand ends the walk. Pure.
 */
export function commandChain(program: Command, args: readonly string[]): Command[] {
  const chain = [program];
  let cur = program;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (takesValue(cur, a) || (cur !== program && takesValue(program, a))) i++;
      continue;
    }
    const next = cur.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!next) break;
    chain.push(next);
    cur = next;
  }
  return chain;
}

/** The flag as the user typed it for an option commander names by its flags (`-t, --time <seconds>`). */
function typedFlag(flags: string, args: readonly string[]): string {
  const names = flags.split(/[ ,|]+/).filter((f) => f.startsWith('-'));
  for (let i = args.length - 1; i >= 0; i--) if (names.includes(args[i]!)) return args[i]!;
  return names[names.length - 1] ?? flags;
}

/** cobra's wording for a flag: `--time`, or `'t' in -t` for a shorthand. */
function cobraFlag(flag: string): string {
  return flag.startsWith('--') ? flag : `'${flag.slice(1, 2)}' in ${flag}`;
}

/**
 * What a tool prints for commander's usage error `e` (unknown flag or command, missing argument, a command group
 * without its subcommand), in podman's (cobra's) words: `Error: unknown flag: --bogus` and `See 'run-tool ps --help'`
 * — two lines, never the whole help; `Error: unrecognized command \`run-tool nosuch\`` and `Try 'run-tool --help' for
 * more information`; a group named alone (`run-tool`, `run-tool volume`) gets `Error: missing command 'run-tool
 * COMMAND'` on stderr and its usage (`help`, commander's text) on stdout. Pure.
 */
export function usageReport(program: Command, args: readonly string[], e: CommanderError, help: () => string): UsageReport {
  const chain = commandChain(program, args);
  const path = chain.map((c) => c.name()).join(' ');
  const raw = e.message.replace(/^error: /, '').replace(/\n[\s\S]*$/, '');
  const see = `See '${path} --help'\n`;
  switch (e.code) {
    case 'commander.help':
      return { stderr: `Error: missing command '${path} COMMAND'\n`, stdout: help() };
    case 'commander.unknownCommand': {
      const word = /unknown command '([^']*)'/.exec(e.message)?.[1] ?? '';
      return { stderr: `Error: unrecognized command \`${path} ${word}\`\nTry '${path} --help' for more information\n`, stdout: '' };
    }
    case 'commander.unknownOption': {
      const flag = /unknown option '([^']*)'/.exec(e.message)?.[1] ?? '';
      const msg = flag.startsWith('--') || flag === '' ? `unknown flag: ${flag}` : `unknown shorthand flag: ${cobraFlag(flag)}`;
      return { stderr: `Error: ${msg}\n${see}`, stdout: '' };
    }
    case 'commander.optionMissingArgument': {
      const flags = /option '([^']*)' argument missing/.exec(e.message)?.[1] ?? '';
      return { stderr: `Error: flag needs an argument: ${cobraFlag(typedFlag(flags, args))}\n${see}`, stdout: '' };
    }
    default:
      return { stderr: `Error: ${raw}\n${see}`, stdout: '' };
  }
}
