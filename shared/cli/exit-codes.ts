import { SkiffError, type ErrorCode } from '../errors.ts';

/** Which peer's exit-code convention a tool follows. */
export type ToolName = 'build-tool' | 'copy-tool' | 'run-tool';

/**
 * Maps an error code to the exit code the tool's peer uses for it: run-tool as podman (125 for its own
 * errors, 127 when the image/container is not found is NOT used — podman returns 125 there too; 126/127 are
 * for a command the container cannot invoke / find), copy-tool as skopeo (2 when the image does not exist,
 * else 1), build-tool as buildah 1.28 (125 for a build error; a RUN that failed makes the build exit with that
 * RUN's own status, `runExit`, when it is 1–255). An error's own `exitStatus` (SkiffError) wins over all of these.
 */
export function exitCodeFor(tool: ToolName, code: ErrorCode | undefined, runExit?: number, exitStatus?: number): number {
  if (exitStatus !== undefined) return exitStatus;
  switch (tool) {
    case 'run-tool':
      return 125;
    case 'copy-tool':
      return code === 'ENOTFOUND' ? 2 : 1;
    case 'build-tool':
      return runExit !== undefined && Number.isInteger(runExit) && runExit >= 1 && runExit <= 255 ? runExit : 125;
  }
}

/** The exit code of the tool for a thrown error (its SkiffError code and exit status; 125/1 for anything else). */
export function exitCodeOf(tool: ToolName, e: unknown): number {
  if (!(e instanceof SkiffError)) return exitCodeFor(tool, undefined);
  const runExit = e.details?.exitCode;
  return exitCodeFor(tool, e.code, typeof runExit === 'number' ? runExit : undefined, e.exitStatus);
}
