import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandChain, usageReport } from '../../../shared/cli/usage-error.ts';

/** A program shaped like run-tool's: a global --root, a command with a valued option, a group with a subcommand. */
function program(): Command {
  const p = new Command('run-tool').option('--root <dir>').exitOverride();
  p.configureOutput({ writeErr: () => {}, outputError: () => {} });
  p.command('ps').option('-f, --filter <f>').option('--format <f>').option('-a, --all').action(() => {});
  p.command('volume').command('ls').action(() => {});
  p.command('logs').argument('<container>').action(() => {});
  return p;
}

/** Parses `args` and returns what the user would see. */
function report(args: string[]) {
  const p = program();
  try {
    p.parse(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return usageReport(p, args, e, () => 'USAGE\n');
  }
  throw new Error('no usage error');
}

describe('usage errors in podman\'s words', () => {
  it('walks to the command named, skipping options and their values', () => {
    expect(commandChain(program(), ['--root', 'ps', 'ps', '-a']).map((c) => c.name())).toEqual(['run-tool', 'ps']);
    expect(commandChain(program(), ['--root=/x', 'volume', 'ls']).map((c) => c.name())).toEqual(['run-tool', 'volume', 'ls']);
    expect(commandChain(program(), ['nosuch', 'ps']).map((c) => c.name())).toEqual(['run-tool']);
  });

  it('an unknown long or short flag: the error and where help is, two lines', () => {
    expect(report(['ps', '--bogus'])).toEqual({ stderr: "Error: unknown flag: --bogus\nSee 'run-tool ps --help'\n", stdout: '' });
    expect(report(['--root', '/x', 'ps', '-x'])).toEqual({ stderr: "Error: unknown shorthand flag: 'x' in -x\nSee 'run-tool ps --help'\n", stdout: '' });
    expect(report(['--bogus']).stderr).toBe("Error: unknown flag: --bogus\nSee 'run-tool --help'\n");
  });

  it('a flag without its value names the flag as typed', () => {
    expect(report(['ps', '--format']).stderr).toBe("Error: flag needs an argument: --format\nSee 'run-tool ps --help'\n");
    expect(report(['ps', '-f']).stderr).toBe("Error: flag needs an argument: 'f' in -f\nSee 'run-tool ps --help'\n");
  });

  it('an unknown command and a group without its subcommand', () => {
    expect(report(['nosuch']).stderr).toBe("Error: unrecognized command `run-tool nosuch`\nTry 'run-tool --help' for more information\n");
    expect(report(['volume', 'nosuch']).stderr).toBe("Error: unrecognized command `run-tool volume nosuch`\nTry 'run-tool volume --help' for more information\n");
    expect(report(['volume'])).toEqual({ stderr: "Error: missing command 'run-tool volume COMMAND'\n", stdout: 'USAGE\n' });
  });

  it('any other usage error keeps its message, one line, then where help is', () => {
    expect(report(['logs']).stderr).toBe("Error: missing required argument 'container'\nSee 'run-tool logs --help'\n");
  });
});
