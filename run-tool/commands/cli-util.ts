import type { Command } from 'commander';
import { storeRootOf } from '../../shared/cli/program.ts';
import { openStore, type Store } from '../../shared/store/store.ts';
import { isSkiffError } from '../../shared/errors.ts';
import { exitCodeOf } from '../../shared/cli/exit-codes.ts';

/**
 * Opens the store of a container command (created on first use unless `create: false`, which the monitor's
 * exit command uses so a store deleted meanwhile is not recreated), runs `fn`, closes it.
 */
export async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>, o: { create?: boolean } = {}): Promise<T> {
  const store = await openStore(storeRootOf(cmd), { create: o.create ?? true });
  try {
    return await fn(store);
  } catch (e) {
    if (!isSkiffError(e) || e.exitStatus === undefined) throw e;
    process.stderr.write(`Error: ${e.message}\n`);
    process.exitCode = exitCodeOf('run-tool', e);
    return undefined as T;
  } finally {
    await store.close();
  }
}

/**
 * Asks `question` on stderr and reads one line of stdin: true for `y` or `yes` (any case), false for anything
 * else or a closed stdin (podman's prune prompts).
 */
export async function confirm(question: string): Promise<boolean> {
  process.stderr.write(question);
  if (process.stdin.isTTY === undefined && process.stdin.readableEnded) return false;
  let answer = '';
  for await (const c of process.stdin) {
    answer += String(c);
    if (answer.includes('\n')) break;
  }
  return /^y(es)?$/i.test(answer.trim());
}

/**
 * Prints what went wrong without stopping the command — a container's network that could not be torn down — as
 * `stop` and `rm` print it: `Error: MESSAGE` on stderr, the exit code untouched.
 */
export function printWarning(message: string): void {
  process.stderr.write(`Error: ${message}\n`);
}

/**
 * Runs `fn` for each container argument as podman does: errors are printed per container (`Error: …`) and the
 * last one sets the exit code (exitCodeOf: 125, or the error's own exitStatus — 1 for "no such container" as podman, 2 for a
 * state error); the others still run.
 */
export async function forEachContainer(names: string[], fn: (name: string) => Promise<void>): Promise<void> {
  for (const n of names) {
    try {
      await fn(n);
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      process.exitCode = exitCodeOf('run-tool', e);
    }
  }
}

/**
 * The exit status of `rm`/`rmi` after `errors` (podman's rule): 1 when every failure was a name that does not
 * exist, 2 when the others were things in use (a running container, an image a container uses: exitStatus 2 or
 * ELOCKED), 125 when anything else failed; 0 for no errors. Pure.
 */
export function removalExitStatus(errors: readonly unknown[]): number {
  if (errors.length === 0) return 0;
  const inUse = (e: unknown) => isSkiffError(e, 'ELOCKED') || (isSkiffError(e) && e.exitStatus === 2);
  if (errors.some((e) => !isSkiffError(e, 'ENOTFOUND') && !inUse(e))) return 125;
  return errors.some(inUse) ? 2 : 1;
}

/**
 * The container IDs `--cidfile` files name (stop/rm as podman): a file that is missing or empty is skipped with
 * `ignore`, else ENOTFOUND naming it. Returns file → ID for the files that name one.
 */
export async function readCidFiles(files: readonly string[], ignore: boolean): Promise<Map<string, string>> {
  const { readFile } = await import('node:fs/promises');
  const { SkiffError } = await import('../../shared/errors.ts');
  const out = new Map<string, string>();
  for (const f of files) {
    const id = (await readFile(f, 'utf8').catch(() => '')).trim();
    if (id !== '') out.set(f, id);
    else if (!ignore) throw new SkiffError('ENOTFOUND', `reading CIDFile: ${f}: no such file or empty`, { exitStatus: 125 });
  }
  return out;
}
