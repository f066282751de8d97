// The exit codes of containers removed on exit (--rm), kept for a while after the container is gone: a waiter that
// polls (`wait`, the API's `wait?condition=removed`, which `docker run --rm` uses) can miss the short moment between
// the exit and the removal, and must still report the container's own code (podman keeps such codes in its
// database for five minutes, for the same reason). One small file per container ID under <root>/exits.
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How long an exit code outlives its removed container. */
export const REMOVED_EXIT_TTL_MS = 5 * 60_000;

const dirOf = (root: string): string => join(root, 'exits');

/** Records `code` as the exit code of the removed container `id` (atomic: temp file + rename), dropping expired entries. */
export async function recordRemovedExit(root: string, id: string, code: number, now = Date.now()): Promise<void> {
  const dir = dirOf(root);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${id}.${process.pid}`);
  await writeFile(tmp, `${code}\n`, { mode: 0o600 });
  await rename(tmp, join(dir, id));
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st && now - st.mtimeMs > REMOVED_EXIT_TTL_MS) await rm(join(dir, name), { force: true });
  }
}

/** The recorded exit code of the removed container `id`, undefined when none (or it expired). */
export async function removedExitCode(root: string, id: string, now = Date.now()): Promise<number | undefined> {
  const p = join(dirOf(root), id);
  const st = await stat(p).catch(() => undefined);
  if (!st || now - st.mtimeMs > REMOVED_EXIT_TTL_MS) return undefined;
  const t = await readFile(p, 'utf8').catch(() => '');
  return /^-?[0-9]+\s*$/.test(t) ? Number(t) : undefined;
}
