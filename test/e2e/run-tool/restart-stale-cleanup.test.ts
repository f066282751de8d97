// `restart` stops the container (its stop claims the cleanup) and starts a new run at once. The old run's conmon
// still runs its exit command after that start: that cleanup belongs to the old run and must leave the new run's
// state alone (no exited record over a running process), so a `stop` after the restart still waits its grace
// period. The same holds for a container with a restart policy.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../../shared/process/proc.ts';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt } from './core-helpers.ts';

let bundle = '';
let root = '';
let cleanup: (() => Promise<void>) | undefined;
const run = (args: string[]) => rt(bundle, root, args);

/** inspect's State of `id`. */
function state(id: string): { Status: string; Running: boolean; Pid: number; ConmonPid: number } {
  const r = run(['inspect', '--format', '{{json .State}}', id]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { Status: string; Running: boolean; Pid: number; ConmonPid: number };
}

/** The exit command conmon `pid` runs when its container exits, from its command line. */
function exitCommandOf(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--exit-command' || a === '--exit-command-arg') out.push(argv[i + 1]!);
  });
  return out;
}

async function restartKeepsRunning(extra: string[], o: { lateExitCommand?: boolean } = {}): Promise<void> {
  // ignores SIGTERM: a stop with -t 2 takes its 2 s before SIGKILL
  const id = run(['run', '-d', ...extra, '--network', 'none', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done']).stdout.trim();
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  const first = state(id);
  const before = first.Pid;
  const oldExit = exitCommandOf(first.ConmonPid);
  expect(oldExit.join(' ')).toContain('container-cleanup');
  const r = run(['restart', '-t', '1', id]);
  expect(r.status, r.stderr).toBe(0);
  // the old monitor's exit command landing after the new start (what a loaded machine makes of it), run for real
  if (o.lateExitCommand) {
    // the restart's stop claimed the old run's cleanup: its gate (the exit command up to the cleanup: sh -c script
    // claim run service dir taken) skips it
    const gate = spawnSync(oldExit[0]!, [...oldExit.slice(1, 8), '/bin/echo', 'cleanup ran'], { encoding: 'utf8', timeout: 30_000 });
    expect(gate.status, gate.stderr).toBe(0);
    expect(gate.stdout + gate.stderr).toBe('');
    // and its cleanup, should it run anyway (a claim lost), leaves the new run alone
    const late = spawnSync(oldExit[8]!, oldExit.slice(9), { encoding: 'utf8', timeout: 30_000 });
    expect(late.status, late.stderr).toBe(0);
    // the new run's gate is open: the old run's claim does not name it
    const newExit = exitCommandOf(state(id).ConmonPid);
    expect(newExit.join(' ')).toContain('container-cleanup');
    const open = spawnSync(newExit[0]!, [...newExit.slice(1, 8), '/bin/echo', 'cleanup ran'], { encoding: 'utf8', timeout: 30_000 });
    expect(open.stdout).toBe('cleanup ran\n');
  }
  await sleep(1500); // the old run's exit command has run by now
  const after = state(id);
  expect(after).toMatchObject({ Status: 'running', Running: true });
  expect(after.Pid).toBeGreaterThan(0);
  expect(after.Pid).not.toBe(before);
  expect(isAlive(after.Pid)).toBe(true);
  const t0 = Date.now();
  const s = run(['stop', '-t', '2', id]);
  expect(s.status, s.stderr).toBe(0);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
  expect(isAlive(after.Pid)).toBe(false);
  expect(state(id).Status).toBe('exited');
  run(['rm', '-f', id]);
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('restart: the old run\'s exit command does not clean the new run', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-restart-stale-');
    cleanup = sd.cleanup;
    root = join(sd.dir, 'root');
    await makeBusyboxImage(root, sd.dir);
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f']);
    await cleanup?.();
  });

  it('after restart the container stays running with its new pid, and stop -t 2 waits', async () => {
    await restartKeepsRunning([]);
  }, 60_000);

  it('the same with --restart always', async () => {
    await restartKeepsRunning(['--restart', 'always']);
  }, 60_000);

  it('the old run\'s exit command landing after the new start is a no-op', async () => {
    await restartKeepsRunning([], { lateExitCommand: true });
  }, 60_000);

  it('the same for a container with --restart always (no second restart, no exit recorded)', async () => {
    await restartKeepsRunning(['--restart', 'always'], { lateExitCommand: true });
  }, 60_000);
});
