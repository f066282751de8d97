import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

/** The name writeFileAtomic gives its temp file: `.<name>.<writer pid>.<12 hex>.tmp`. */
const ATOMIC_TEMP_RE = /^\.(.+)\.(\d{1,10})\.([0-9a-f]{12})\.tmp$/;

/** fsyncs a directory so a rename or create inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` with `data` atomically: write a temp file beside it, fsync, rename over, fsync the
 * directory. Readers see the old or the new content, never a torn file. The temp is removed on failure.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** True when a process with this pid exists (signal 0 probe; EPERM means it exists but is not ours). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The temp files writeFileAtomic left in `dir` whose writer is gone (killed between create and rename): names of
 * its pattern whose pid is not a live process. Regular files only; a live pid (even a reused one) keeps its file,
 * so a writer in progress is never touched. Absolute paths; [] when `dir` does not exist.
 */
export async function staleAtomicTemps(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names) {
    const m = ATOMIC_TEMP_RE.exec(n);
    if (!m || Number(m[2]) === process.pid || isPidAlive(Number(m[2]))) continue;
    const st = await lstat(join(dir, n)).catch(() => undefined);
    if (st?.isFile()) out.push(join(dir, n));
  }
  return out;
}

/** Removes staleAtomicTemps(dir) (or, with dryRun, only lists them); returns the paths. Idempotent. */
export async function removeStaleAtomicTemps(dir: string, o: { dryRun?: boolean } = {}): Promise<string[]> {
  const stale = await staleAtomicTemps(dir);
  if (!o.dryRun) for (const p of stale) await rm(p, { force: true });
  return stale;
}
