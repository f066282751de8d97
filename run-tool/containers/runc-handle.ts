import { resolve } from 'node:path';
import { SkiffError } from '../../shared/errors.ts';
import { requireProgram } from '../../shared/process/system-programs.ts';
import { ensurePrivateDir, Runc, runcRootFor } from '../../shared/runtime/runc.ts';

/*
 * What run-tool's container operations share to start programs: the one runc of this process, and how a monitor
 * or a health-check timer calls this program back.
 */

let runcCache: Runc | undefined;

/** The runc binary and its per-user state dir (RU-16: 0700, owned by the caller). */
export async function getRunc(): Promise<Runc> {
  if (runcCache) return runcCache;
  const root = process.env.SKIFF_RUNC_ROOT ?? runcRootFor();
  await ensurePrivateDir(root);
  runcCache = new Runc(requireProgram('runc'), root);
  return runcCache;
}

/** How the exit command reaches this program: `node <script> --root ROOT container-cleanup --run TOKEN ID`. */
export function selfCommand(): string[] {
  const script = process.env.SKIFF_RUN_TOOL_SCRIPT ?? process.argv[1];
  if (!script) throw new SkiffError('EIO', 'cannot locate run-tool for the exit command');
  return [process.execPath, resolve(script)];
}

