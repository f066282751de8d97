import { isSkiffError } from '../errors.ts';
import { reexecInUserNamespace } from '../runtime/userns.ts';
import { defaultStoreRoot } from '../store/paths.ts';
import { commandNameOf } from './lazy-commands.ts';

/*
 * The one way every tool enters an ordinary user's rootless namespace (podman's model, see runtime/userns.ts):
 * the tool's main calls this first; when the command touches what only "root" of the user's namespace may
 * touch — unpacked layers owned by subordinate ids, overlay mounts, runc, containers — the process re-executes
 * itself inside the namespace held by the user's pause process, and exits with the inner process's code.
 */

/** What decides whether a command needs the namespace: the command name (undefined: none) and the raw args. */
export type NeedsUserNamespace = (command: string | undefined, args: readonly string[]) => boolean;

/**
 * For an ordinary user outside skiff's namespace whose command `needs` it: runs the same invocation again inside
 * the user's rootless namespace (reexecInUserNamespace: joined through the pause process, store defaulted to
 * the user's) and exits with its code. Returns — nothing done — for root, inside the namespace, with
 * SKIFF_NO_USERNS=1, or when the command does not need it. Call before anything opens the store.
 */
export async function enterUserNamespaceIfNeeded(needs: NeedsUserNamespace, args: readonly string[] = process.argv.slice(2)): Promise<void> {
  if ((process.getuid?.() ?? 0) === 0) return;
  if (!needs(commandNameOf(args), args)) return;
  let code: number | undefined;
  try {
    code = await reexecInUserNamespace({ defaultStoreRoot, onWarning: (m) => process.stderr.write(`${m}\n`) });
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    code = isSkiffError(e) && e.exitStatus !== undefined ? e.exitStatus : 125;
  }
  if (code !== undefined) process.exit(code);
}
