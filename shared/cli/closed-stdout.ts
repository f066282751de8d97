/** The exit status of a tool whose stdout reader went away: 128 + SIGPIPE, what a shell reports for a Go tool. */
export const CLOSED_STDOUT_EXIT = 141;

let installed = false;

/**
 * Makes a closed stdout (`tool … | head -c 300`) end the command quietly, as SIGPIPE ends a Go tool: an EPIPE on
 * stdout exits at once with CLOSED_STDOUT_EXIT and no message (there is no reader left to tell); an EPIPE on
 * stderr is ignored. Any other stream error is left to Node. Idempotent; called once by runProgram for every tool.
 */
export function endQuietlyOnClosedStdout(exit: (code: number) => never = (c) => process.exit(c)): void {
  if (installed) return;
  installed = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') exit(CLOSED_STDOUT_EXIT);
    throw e;
  });
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
