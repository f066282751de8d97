import { Command, CommanderError } from 'commander';
import { isSkiffError } from '../errors.ts';
import { checkStoreRoot, defaultStoreRoot } from '../store/paths.ts';
import { reportError } from './report-error.ts';
import { endQuietlyOnClosedStdout } from './closed-stdout.ts';
import { commandChain, usageReport } from './usage-error.ts';
import type { ToolName } from './exit-codes.ts';

declare const SKIFF_VERSION: string;
/** The version the bundle was built with (package.json), or "dev" when run from source. */
export const VERSION: string = typeof SKIFF_VERSION === 'string' ? SKIFF_VERSION : 'dev';

/**
 * A commander program for one tool with the options every skiff tool shares: `--root DIR` (also accepted after
 * a command name, before its first positional argument — add it to subcommands with `addRootOption`) and
 * `--version` printing `<tool> version X` as the peers do.
 */
export function createProgram(tool: ToolName, description: string): Command {
  const program = new Command(tool)
    .description(description)
    .version(`${tool} version ${VERSION}`, '-v, --version', 'print the version')
    .option('--root <dir>', 'store root (default: $SKIFF_ROOT, /var/lib/skiff as root, ~/.local/share/skiff otherwise)')
    .enablePositionalOptions()
    .exitOverride();
  // usage errors are printed by runProgram (usageReport), in podman's two lines: commander's own text is dropped
  program.configureOutput({ writeErr: () => {}, outputError: () => {} });
  return program;
}

/** Adds `--root` to a subcommand so `tool CMD --root DIR ARGS` works like `tool --root DIR CMD ARGS`. */
export function addRootOption(cmd: Command): Command {
  return cmd.option('--root <dir>', 'store root (same as the global --root)');
}

/**
 * The store root for a command: its own `--root`, else the global one, else the default for this user.
 * EINVALID when it exists and is not a directory (checkStoreRoot), so every command of every tool fails the same way.
 */
export function storeRootOf(cmd: Command): string {
  const opts = cmd.optsWithGlobals() as { root?: string };
  const root = defaultStoreRoot(process.env, process.getuid?.() ?? 0, opts.root);
  checkStoreRoot(root, opts.root ? '--root' : process.env.SKIFF_ROOT ? 'SKIFF_ROOT' : 'store root');
  return root;
}

/**
 * Parses argv and runs the matching action; maps errors to the tool's exit code. Never throws; sets
 * process.exitCode and returns it. A closed stdout ends the tool quietly (endQuietlyOnClosedStdout).
 */
export async function runProgram(tool: ToolName, program: Command, argv = process.argv): Promise<number> {
  endQuietlyOnClosedStdout();
  try {
    await program.parseAsync(argv);
    return (process.exitCode as number | undefined) ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors print podman's two lines and exit with the tool's usage code
      if (e.exitCode === 0) {
        process.exitCode = 0;
        return 0;
      }
      const args = argv.slice(2);
      const chain = commandChain(program, args);
      // buildah alone prints its help and succeeds; podman and skopeo call a missing command an error
      if (e.code === 'commander.help' && tool === 'build-tool' && chain.length === 1) {
        process.stdout.write(program.helpInformation());
        process.exitCode = 0;
        return 0;
      }
      const r = usageReport(program, args, e, () => chain.at(-1)!.helpInformation());
      if (r.stdout) process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      const code = reportUsage(tool);
      process.exitCode = code;
      return code;
    }
    const code = reportError(tool, e);
    process.exitCode = code;
    // a cancelled command (Ctrl-C, SIGTERM, --command-timeout) has rolled back by the time its error arrives here:
    // exit now, so a connection still being set up cannot hold the process until its own timeout
    if (isSkiffError(e, 'EABORT')) process.exit(code);
    return code;
  }
}

/** The exit status of a usage error: 125 as podman and buildah, 1 as skopeo. */
function reportUsage(tool: ToolName): number {
  return tool === 'copy-tool' ? 1 : 125;
}
