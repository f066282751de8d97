// The API service's claim on a container's exit cleanup (exit-watch.ts) against the monitor's exit command gate
// (start-container.ts exitCommand), both real, driven directly: after every write the service makes to the
// container directory while it moves its token from `claim PID` to `<run> PID`, the gate is run once as conmon
// would run it on an exit at that very moment. It must keep waiting each time (the service lives and holds the
// claim); a gate that decided instead would start `container-cleanup` for a run the service cleans up too. The
// token used to be rewritten in place: the gate read the truncated, empty file, stopped waiting and cleaned up.
// And a claim for the next start, written over `done <run>` before that run's gate read it, kept the gate waiting
// on the next run and then cleaning its own run up again: the new claim carries the done run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { claimExitCleanup } from '../../../run-tool/containers/exit-watch.ts';
import { exitCommand } from '../../../run-tool/containers/start-container.ts';
import { containerPaths, exitTakenPath, newContainerId } from '../../../run-tool/containers/state.ts';
import { scratchDir } from '../../helpers/tmp.ts';

/** What the gate did at each write: waited (still running after the grace time), skipped, or cleaned up. */
type Outcome = 'waiting' | 'skipped' | 'cleaned';
const hook: { dir: string; run: () => Outcome; outcomes: Outcome[] } = { dir: '', run: () => 'waiting', outcomes: [] };

/** Runs the gate once when a write lands in the armed container directory. */
const afterWrite = (path: unknown): void => {
  if (hook.dir && typeof path === 'string' && dirname(path) === hook.dir) hook.outcomes.push(hook.run());
};

// every way a write reaches the directory, with the gate run right after each step a reader could see
vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...a: Parameters<typeof fsp.open>) => {
    const fh = await fsp.open(...a);
    if (typeof a[1] === 'string' && /[wa]/.test(a[1])) afterWrite(a[0]);
    return fh;
  };
  const rename = async (...a: Parameters<typeof fsp.rename>) => {
    await fsp.rename(...a);
    afterWrite(a[1]);
  };
  // writeFile as Node does it: open (truncating), write, close — the gate may read between the first two
  const writeFile = async (...a: Parameters<typeof fsp.writeFile>) => {
    if (typeof a[0] !== 'string' || !hook.dir || dirname(a[0]) !== hook.dir) return fsp.writeFile(...a);
    const fh = await open(a[0], 'w');
    try {
      await fh.writeFile(a[1]);
    } finally {
      await fh.close();
    }
  };
  const mocked = { ...fsp, open, rename, writeFile };
  return { ...mocked, default: mocked };
});

// the service's own cleanup of a run, seen but not done (the fixture has no store or runtime)
const serviceCleanups = vi.hoisted(() => [] as string[]);
vi.mock('../../../shared/store/store.ts', async (importOriginal) => ({ ...(await importOriginal<object>()), openStore: async () => ({ close: async () => {} }) }));
vi.mock('../../../run-tool/containers/cleanup-container.ts', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  cleanupContainer: async (_store: unknown, id: string, o: { run?: string }) => {
    serviceCleanups.push(`${id} ${o.run}`);
    return true;
  },
}));

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  hook.dir = '';
  hook.outcomes = [];
  serviceCleanups.length = 0;
  await cleanup?.();
});

/** A container directory holding a conmon run `run1` whose monitor is gone, and the real gate for that run. */
async function fixture() {
  const t = await scratchDir('skiff-exit-gate-');
  cleanup = t.cleanup;
  const root = join(t.dir, 'root');
  const id = newContainerId();
  const p = containerPaths(root, id);
  mkdirSync(p.exits, { recursive: true });
  // a running conmon run whose monitor is already gone: a watch gives up after its first liveness poll (~2 s)
  const dead = spawnSync('true').pid!;
  writeFileSync(p.record, JSON.stringify({ id, name: 'gate' }));
  writeFileSync(p.state, JSON.stringify({ status: 'running', pid: dead, monitorPid: dead, monitor: 'conmon', runId: 'run1', exitCode: 0, startedAt: '', finishedAt: '', restartCount: 0, stoppedByUser: false, mounted: true }));
  const log = join(t.dir, 'cleanups.log');
  const gate = exitCommand(p.cleanupClaim, 'run1', p.serviceClaim, p.dir, exitTakenPath(p.dir, 'run1'), ['/bin/sh', '-c', 'echo ran >>"$0"', log]);
  let ran = 0;
  /** Runs the gate as conmon would on run1's exit now: what it did. */
  const runGate = (): Outcome => {
    const r = spawnSync(gate[0]!, gate.slice(1), { timeout: 1500, killSignal: 'SIGKILL' });
    if (r.signal === 'SIGKILL') return 'waiting';
    const now = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
    const outcome = now > ran ? 'cleaned' : 'skipped';
    ran = now;
    return outcome;
  };
  return { root, id, p, runGate };
}

describe('the exit cleanup claim against the exit command gate', () => {
  it('moving its token from the claim to the run never lets the gate through while the service holds the claim', async () => {
    const { root, id, p, runGate } = await fixture();
    hook.run = runGate;
    const claim = await claimExitCleanup(root, id);
    expect(claim).toBeDefined();
    expect(readFileSync(p.serviceClaim, 'utf8')).toBe(`claim ${process.pid}\n`);
    hook.dir = p.dir;
    await claim!.watch();
    hook.dir = '';
    // the token named the run (the gate was run at each of its writes: it waited every time) …
    expect(hook.outcomes.length).toBeGreaterThan(0);
    expect(hook.outcomes.every((o) => o === 'waiting'), hook.outcomes.join(' ')).toBe(true);
    // … and the claim let go without a cleanup (the run ended another way) leaves the exit to the gate
    expect(existsSync(p.serviceClaim)).toBe(false);
    expect(runGate()).toBe('cleaned');
  }, 30_000);

  it('a claim for the next start, taken before the done run\'s gate read its token, still tells that gate its run is done', async () => {
    const { root, id, p, runGate } = await fixture();
    // the service cleaned run1 up; a start right after claims the next run's exit before run1's gate looked again
    writeFileSync(p.serviceClaim, 'done run1\n');
    const claim = await claimExitCleanup(root, id);
    try {
      // run1's gate neither waits for the next run nor cleans run1 up a second time
      expect(runGate()).toBe('skipped');
      expect(readFileSync(p.serviceClaim, 'utf8')).toBe(`claim ${process.pid} run1\n`);
    } finally {
      await claim!.release();
    }
  }, 30_000);

  it('an exit command that looked before the service claimed (a kill of a container exiting by itself) keeps the cleanup: the service leaves it', async () => {
    const { root, id, p, runGate } = await fixture();
    writeFileSync(join(p.exits, id), '0');
    // no claim yet: the gate takes the exit's cleanup and cleans up
    expect(runGate()).toBe('cleaned');
    const claim = await claimExitCleanup(root, id);
    await claim!.watch();
    expect(serviceCleanups).toEqual([]);
    expect(existsSync(p.serviceClaim)).toBe(false);
  }, 30_000);

  it('the service that took the exit first cleans it up; the exit command then skips it', async () => {
    const { root, id, p, runGate } = await fixture();
    writeFileSync(join(p.exits, id), '0');
    const claim = await claimExitCleanup(root, id);
    await claim!.watch();
    expect(serviceCleanups).toEqual([`${id} run1`]);
    expect(existsSync(exitTakenPath(p.dir, 'run1'))).toBe(true);
    expect(readFileSync(p.serviceClaim, 'utf8')).toBe('done run1\n');
    expect(runGate()).toBe('skipped');
  }, 30_000);
});
