import { clipMessage, SkiffError } from '../errors.ts';
import { exitCodeFor, exitCodeOf, type ToolName } from './exit-codes.ts';

/**
 * Prints an error as one line on stderr (`Error: <message>` plus `; <hint>` when there is one, long quoted input
 * shortened by clipMessage) and returns the tool's exit code for it (a failed RUN's own status travels as
 * `details.exitCode`). Unexpected (non-Skiff) errors print their message; with SKIFF_DEBUG set, the stack too.
 */
export function reportError(tool: ToolName, e: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (e instanceof SkiffError) {
    stderr.write(`Error: ${clipMessage(e.message)}${e.hint ? `; ${clipMessage(e.hint)}` : ''}\n`);
    if (process.env.SKIFF_DEBUG && e.stack) stderr.write(`${e.stack}\n`);
    return exitCodeOf(tool, e);
  }
  const err = e as { message?: string; stack?: string; code?: string };
  stderr.write(`Error: ${clipMessage(err?.message ?? String(e))}\n`);
  if (process.env.SKIFF_DEBUG && err?.stack) stderr.write(`${err.stack}\n`);
  return exitCodeFor(tool, undefined);
}
