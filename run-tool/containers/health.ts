/**
 * Health checks without systemd: a per-container timer process (a detached `/bin/sh` loop in its own process
 * group, pid and start time recorded in the container state) runs `run-tool healthcheck run ID` every interval;
 * each run executes the check through `runc exec` with its timeout and records the result (status
 * starting/healthy/unhealthy, failing streak, the last 5 log entries) under the container lock. The timer ends
 * itself when the container is gone or not running, and is killed on stop/exit/rm.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError, type Cancellable } from '../../shared/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { getRunc, selfCommand } from './runc-handle.ts';
import { procStartTime } from '../../shared/process/proc.ts';
import { containerPaths, loadById, loadContainer, lockContainer, saveState, type ContainerState, type HealthConfig } from './state.ts';
import { exitError } from './exit-status.ts';

/** podman keeps this many health log entries. */
export const HEALTH_LOG_MAX = 5;
const OUTPUT_MAX = 4096;

/**
 * Spawns the timer of container `id` (detached, own process group, stdio closed): every `intervalMs` it runs the
 * check through this program; the loop exits when a run reports an error (exit ≥ 2: container gone or stopped).
 * Returns the timer's pid and start time (for stopHealthTimer's pid-reuse guard).
 */
export function startHealthTimer(root: string, id: string, intervalMs: number): { pid: number; start?: string } {
  const [node, script] = selfCommand();
  const secs = Math.max(intervalMs, 100) / 1000;
  const loop = 'while sleep "$1"; do "$2" "$3" --root "$4" healthcheck run "$5" >/dev/null 2>&1; [ $? -le 1 ] || exit 0; done';
  const child = spawn('/bin/sh', ['-c', loop, 'health-timer', String(secs), node!, script!, root, id], { detached: true, stdio: 'ignore' });
  child.unref();
  const pid = child.pid ?? 0;
  const start = procStartTime(pid);
  return { pid, ...(start !== undefined && { start }) };
}

/** Kills a timer's process group when `pid` still is that timer (same start time). Idempotent. */
export function stopHealthTimer(pid: number, start?: string): void {
  if (!(pid > 0)) return;
  const now = procStartTime(pid);
  if (now === undefined || (start !== undefined && now !== start)) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The argv a healthcheck Test runs (`CMD-SHELL x` → `/bin/sh -c x`, `CMD a b` → `a b`); undefined for NONE. */
export function healthArgv(test: readonly string[]): string[] | undefined {
  const [kind, ...rest] = test;
  if (kind === 'CMD-SHELL') return ['/bin/sh', '-c', rest.join(' ')];
  if (kind === 'CMD') return rest.length ? rest : undefined;
  if (kind === 'NONE' || kind === undefined) return undefined;
  return [...test];
}

/** Result of one check. */
export interface HealthResult {
  status: 'starting' | 'healthy' | 'unhealthy';
  exitCode: number;
}

/** Applies one check's outcome to the health state (podman's rules: failures in the start period do not count). Pure. */
export function applyHealthResult(prev: ContainerState['health'], cfg: HealthConfig, entry: { start: string; end: string; exitCode: number; output: string }, startedAt: string): NonNullable<ContainerState['health']> {
  const h = { status: prev?.status ?? 'starting', failingStreak: prev?.failingStreak ?? 0, log: [...(prev?.log ?? [])] } as NonNullable<ContainerState['health']>;
  h.log.push(entry);
  while (h.log.length > HEALTH_LOG_MAX) h.log.shift();
  if (entry.exitCode === 0) {
    h.status = 'healthy';
    h.failingStreak = 0;
    return h;
  }
  const inStart = cfg.startPeriod > 0 && Date.parse(entry.start) - Date.parse(startedAt) < cfg.startPeriod;
  if (inStart) return h;
  h.failingStreak += 1;
  if (h.failingStreak >= Math.max(1, cfg.retries)) h.status = 'unhealthy';
  return h;
}

/**
 * Runs the health check of a running container once (`healthcheck run`): `runc exec` of the Test with the
 * container's process settings, killed after Timeout; the result is recorded under the container lock.
 * EINVALID when the container has no health check; exit status 125 when it is not running.
 */
export async function runHealthcheck(store: Store, nameOrId: string, o: Cancellable = {}): Promise<HealthResult> {
  const root = store.paths.root;
  const c = await loadContainer(root, nameOrId);
  const cfg = c.record.health;
  const argv = cfg && healthArgv(cfg.test);
  if (!cfg || !argv) throw new SkiffError('EINVALID', `container ${c.record.id} has no defined healthcheck`);
  if (c.state.status !== 'running') throw exitError(125, `container ${c.record.name} is not running: container state improper`);
  const p = containerPaths(root, c.record.id);
  const spec = JSON.parse(await readFile(join(p.bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown> };
  const file = join(p.dir, `health-${randomBytes(6).toString('hex')}.json`);
  await writeFile(file, JSON.stringify({ ...spec.process, args: argv, terminal: false }), { mode: 0o600 });
  const runc = await getRunc();
  const start = new Date().toISOString();
  let output = '';
  let exitCode: number;
  try {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const add = (b: Buffer) => {
      if (output.length < OUTPUT_MAX) output += b.toString('utf8');
    };
    // the check's own signal kills only the check (runc forwards SIGTERM), never the container
    exitCode = await runc.exec(c.record.id, file, {
      stdio: ['ignore', 'pipe', 'pipe'],
      onSpawn: (child) => {
        child.stdout?.on('data', add);
        child.stderr?.on('data', add);
        const stop = () => {
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 1000).unref();
        };
        timer = setTimeout(() => {
          timedOut = true;
          stop();
        }, Math.max(cfg.timeout, 1));
        onAbort = stop;
        if (o.signal?.aborted) stop();
        else o.signal?.addEventListener('abort', stop, { once: true });
      },
    }).then((code) => (timedOut ? 1 : o.signal?.aborted ? 125 : code), () => 125);
    clearTimeout(timer);
    if (onAbort) o.signal?.removeEventListener('abort', onAbort);
    if (timedOut) output = 'Health check exceeded timeout';
  } finally {
    await rm(file, { force: true });
  }
  const entry = { start, end: new Date().toISOString(), exitCode, output: output.slice(0, OUTPUT_MAX).replace(/\n$/, '') };
  const lock = await lockContainer(root, c.record.id);
  try {
    const now = await loadById(root, c.record.id);
    if (!now || now.state.status !== 'running') throw exitError(125, `container ${c.record.name} is not running: container state improper`);
    const health = applyHealthResult(now.state.health, cfg, entry, now.state.startedAt);
    await saveState(root, c.record.id, { ...now.state, health });
    return { status: health.status, exitCode };
  } finally {
    await lock.release();
  }
}
