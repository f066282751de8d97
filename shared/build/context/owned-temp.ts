/**
 * Private temp dirs (`$TMPDIR/<prefix>*`, 0700) that name the process owning them (`.owner`: pid and start time)
 * and any helper it started there (`.helper`: an ssh-agent's pid and start time). A build removes its own in
 * `finally`; one killed outright (SIGKILL, a crash) cannot, so the next build that makes such a dir first sweeps the
 * ones whose owner is gone: it stops their helper by PID (only when the start time still matches: never a reused
 * pid) and removes the dir. A dir without a readable owner file, or another user's, is never touched.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, procStartTime } from '../../process/proc.ts';

function stamp(pid: number): string {
  return `${pid} ${procStartTime(pid) ?? ''}\n`;
}

function parseStamp(text: string): { pid: number; start: string } | undefined {
  const [p, start] = text.trim().split(' ');
  const pid = Number(p);
  return Number.isSafeInteger(pid) && pid > 0 && start ? { pid, start } : undefined;
}

/** Removes `$TMPDIR/<prefix>*` dirs of this user whose owner process is gone (stopping their helper first). */
export async function sweepStale(prefix: string): Promise<void> {
  const base = tmpdir();
  const uid = process.getuid?.();
  for (const n of await readdir(base).catch(() => [] as string[])) {
    if (!n.startsWith(prefix)) continue;
    const dir = join(base, n);
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
    const owner = parseStamp(await readFile(join(dir, '.owner'), 'utf8').catch(() => ''));
    if (owner === undefined || isAlive(owner.pid, owner.start)) continue;
    const helper = parseStamp(await readFile(join(dir, '.helper'), 'utf8').catch(() => ''));
    if (helper !== undefined && isAlive(helper.pid, helper.start)) {
      try {
        process.kill(helper.pid, 'SIGTERM');
      } catch {
        /* gone meanwhile */
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sweeps stale dirs of `prefix`, then makes a new one owned by this process. */
export async function ownedTempDir(prefix: string): Promise<string> {
  await sweepStale(prefix);
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, '.owner'), stamp(process.pid), { mode: 0o600 });
  return dir;
}

/** Records `pid` as the helper process living in `dir` (stopped by the sweep when the owner is gone). */
export async function noteHelper(dir: string, pid: number): Promise<void> {
  await writeFile(join(dir, '.helper'), stamp(pid), { mode: 0o600 });
}
