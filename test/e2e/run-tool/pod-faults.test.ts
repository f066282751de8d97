// Pod faults: the CLI SIGKILLed during `pod create` and during `pod rm -f`, and the infra container's monitor
// killed. The next command reconciles: nothing half-made stays (no pod, container, mount, lease or name), and the
// names are free again.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { ok, run } from './commit-cp-helpers.ts';
import { hasPodPrograms, mountsUnder, podCgroups, until } from './pod-helpers.ts';

const bin = join(import.meta.dirname, '../../../bin/run-tool.mjs');
const IMG = 'localhost/busybox:latest';

/** Pod records of the store with their phase. */
function podPhases(root: string): { id: string; phase: string }[] {
  const dir = join(root, 'pods');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)).flatMap((id) => {
    try {
      return [{ id, phase: (JSON.parse(readFileSync(join(dir, id, 'record.json'), 'utf8')) as { phase: string }).phase }];
    } catch {
      return [];
    }
  });
}

/**
 * Starts the CLI with `args` and SIGKILLs it as soon as `ready()` holds (polled every few ms); resolves whether it
 * was killed (false: it finished first).
 */
async function killWhen(root: string, args: string[], ready: () => boolean): Promise<boolean> {
  const child = spawn(process.execPath, [bin, '--root', root, ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  let killed = false;
  const end = Date.now() + 30_000;
  while (child.exitCode === null && Date.now() < end) {
    if (ready()) {
      killed = child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await exited;
  return killed;
}

describe.skipIf(!isRoot || !hasPodPrograms)('pod faults: a SIGKILLed CLI, a killed monitor', () => {
  let s: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  const sk = (args: string[]) => run(bin, root, args);
  const okk = (args: string[]) => ok(bin, root, args).trim();
  const leases = () => readdirSync(join(root, 'leases')).filter((l) => l.startsWith('container-'));

  beforeAll(async () => {
    s = await scratchDir('skiff-podfault-');
    root = join(s.dir, 'store');
    await makeBusyboxImage(root, s.dir);
    // the infra image is built once up front, so the kill lands in the pod's own steps
    okk(['pod', 'create', '--name', 'warm', '--network', 'none']);
    okk(['pod', 'rm', 'warm']);
  }, 120_000);

  afterEach(() => {
    sk(['pod', 'rm', '-af', '-t', '0']);
    sk(['rm', '-af']);
  }, 60_000);

  afterAll(async () => {
    await s?.cleanup();
  }, 60_000);

  /** The infra container of a pod being created is on disk without its record (its create is under way). */
  const infraHalfMade = (): boolean => podPhases(root).some((p) => {
    if (p.phase !== 'creating') return false;
    const infraId = (JSON.parse(readFileSync(join(root, 'pods', p.id, 'record.json'), 'utf8')) as { infraId?: string }).infraId;
    return infraId !== undefined && existsSync(join(root, 'containers', infraId, 'bundle')) && !existsSync(join(root, 'containers', infraId, 'record.json'));
  });
  const creating = (): boolean => podPhases(root).some((p) => p.phase === 'creating');
  /** The pod being created has its cgroup made (and its /dev/shm about to be mounted). */
  const cgroupMade = (): boolean => podPhases(root).some((p) => p.phase === 'creating' && podCgroups(p.id).length > 0);

  for (const [when, ready] of [['as the record is written', creating], ['as its cgroup is made', cgroupMade], ['while the infra container is being made', infraHalfMade]] as const) {
    it(`SIGKILL during pod create (${when}): the next command removes the half-made pod, its cgroup, /dev/shm and infra container; the name is free`, async () => {
      let caught = false;
      for (let attempt = 0; attempt < 10 && !caught; attempt++) {
        caught = await killWhen(root, ['pod', 'create', '--name', 'half', '--network', 'none', '-m', '64m', '--cpus', '1'], ready);
        if (!caught) okk(['pod', 'rm', '-f', 'half']);
      }
      expect(caught).toBe(true);
      expect(podPhases(root).map((p) => p.phase)).toEqual(['creating']);
      const halfId = podPhases(root)[0]!.id;
      // any pod command reconciles
      expect(okk(['pod', 'ps', '-q'])).toBe('');
      expect(podPhases(root)).toEqual([]);
      expect(okk(['ps', '-aq'])).toBe('');
      expect(mountsUnder(root)).toEqual([]);
      expect(leases()).toEqual([]);
      expect(readdirSync(join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([]);
      expect(podCgroups(halfId)).toEqual([]);
      okk(['pod', 'create', '--name', 'half', '--network', 'none']);
    }, 120_000);
  }

  it('SIGKILL during pod rm -f: the next command finishes the removal; no process, mount or lease stays', async () => {
    let caught = false;
    let pids: number[] = [];
    let podId = '';
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      podId = okk(['pod', 'create', '--name', 'doomed', '--network', 'none', '-m', '64m']);
      okk(['run', '-d', '--pod', 'doomed', '--name', 'd1', IMG, 'sleep', '300']);
      okk(['run', '-d', '--pod', 'doomed', '--name', 'd2', IMG, 'sleep', '300']);
      const infra = okk(['pod', 'inspect', 'doomed', '--format', '{{.InfraContainerID}}']);
      pids = [infra, 'd1', 'd2'].map((c) => Number(okk(['inspect', c, '--format', '{{.State.Pid}}'])));
      caught = await killWhen(root, ['pod', 'rm', '-f', '-t', '0', 'doomed'], () => podPhases(root).some((p) => p.phase === 'removing'));
    }
    expect(caught).toBe(true);
    expect(sk(['pod', 'exists', 'doomed']).status).toBe(1);
    expect(podPhases(root)).toEqual([]);
    expect(okk(['ps', '-aq'])).toBe('');
    expect(await until(() => pids.every((p) => !existsSync(`/proc/${p}`)))).toBe(true);
    expect(mountsUnder(root)).toEqual([]);
    expect(leases()).toEqual([]);
    expect(podCgroups(podId)).toEqual([]);
    okk(['pod', 'create', '--name', 'doomed', '--network', 'none']);
  }, 180_000);

  it('a killed infra monitor: the pod shows its infra exited, and pod start brings it back with its members', () => {
    okk(['pod', 'create', '--name', 'mon', '--network', 'none']);
    okk(['run', '-d', '--pod', 'mon', '--name', 'm', IMG, 'sleep', '300']);
    const infra = okk(['pod', 'inspect', 'mon', '--format', '{{.InfraContainerID}}']);
    const conmon = Number(readFileSync(join(root, 'containers', infra, 'conmon.pid'), 'utf8').trim());
    process.kill(conmon, 'SIGKILL');
    expect(okk(['pod', 'ps', '--ctr-status', '--filter', 'name=mon', '--format', '{{.ContainerStatuses}}'])).toMatch(/^exited,/);
    okk(['pod', 'stop', '-t', '0', 'mon']);
    okk(['pod', 'start', 'mon']);
    expect(okk(['pod', 'inspect', 'mon', '--format', '{{.State}}'])).toBe('Running');
  }, 60_000);
});
