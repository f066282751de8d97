import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxTarball, hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { openStore } from '../../../shared/store/store.ts';
import { importTarball } from '../../../shared/transport/tarball.ts';
import { buildRunTool, hasConmon, rt, rtSpawn } from './core-helpers.ts';

let bundle = '';
let root = '';
let cleanup: (() => Promise<void>) | undefined;
let scratch = '';
const run = (args: string[]) => rt(bundle, root, args);
const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const inspect = (n: string) => JSON.parse(run(['inspect', n]).stdout)[0];
const gone = (pid: number) => { try { return /^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; } };
const mounted = (id: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(id);
const runcKnows = (id: string) => execFileSync('runc', ['--root', '/run/skiff/runc', 'list', '-q'], { encoding: 'utf8' }).split('\n').includes(id);

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool core faults', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-core-f-');
    cleanup = sd.cleanup;
    scratch = sd.dir;
    root = join(scratch, 'root');
    await makeBusyboxImage(root, scratch);
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f']);
    await cleanup?.();
  });

  it('RU-10 a: a PID 1 that traps TERM exits promptly with its own code', () => {
    const id = run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']).stdout.trim();
    sleepMs(300);
    const t0 = Date.now();
    expect(run(['stop', '-t', '10', id]).status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(inspect(id).State.ExitCode).toBe(0);
    run(['rm', id]);
  });

  it('RU-10 b: a PID 1 ignoring TERM is killed after -t seconds, and the lock is free while waiting', () => {
    const id = run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']).stdout.trim();
    sleepMs(300);
    const t0 = Date.now();
    const stop = rtSpawn(bundle, root, ['stop', '-t', '2', id]);
    sleepMs(500);
    const t1 = Date.now();
    expect(run(['inspect', id]).status).toBe(0); // takes the container lock through reconcile
    expect(Date.now() - t1).toBeLessThan(1500);
    return new Promise<void>((resolve) => stop.on('close', (code) => {
      const took = Date.now() - t0;
      expect(code).toBe(0);
      expect(took).toBeGreaterThanOrEqual(2000);
      expect(took).toBeLessThan(5000);
      expect(inspect(id).State.ExitCode).toBe(137);
      run(['rm', id]);
      resolve();
    }));
  });

  it('RU-10 c: the stop signal (SIGINT) is honoured', () => {
    const id = run(['run', '-d', '--stop-signal', 'SIGINT', '--network', 'none', 'busybox', 'sh', '-c', 'trap "exit 7" INT; while :; do sleep 0.1; done']).stdout.trim();
    sleepMs(300);
    expect(run(['stop', id]).status).toBe(0);
    expect(inspect(id).State.ExitCode).toBe(7);
    expect(inspect(id).Config.StopSignal).toBe('SIGINT');
    run(['rm', id]);
  });

  it('RU-11 SIGINT to a foreground run reaches the container', async () => {
    const child = rtSpawn(bundle, root, ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'trap "echo BYE; exit 0" INT; echo READY; while :; do sleep 0.1; done']);
    let out = '';
    let sent = false;
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      // once: a second SIGINT after the container's exit would reach a CLI that no longer forwards it
      if (out.includes('READY') && !sent) sent = child.kill('SIGINT');
    });
    const code = await new Promise((r) => child.on('close', r));
    expect(out).toContain('BYE');
    expect(code).toBe(0);
  });

  it('RU-12 after run -d the CLI is gone; the container keeps logging and its exit code and --rm still apply', () => {
    const id = run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'echo a; sleep 1; echo b; exit 3']).stdout.trim();
    expect(run(['wait', id]).stdout).toBe('3\n');
    expect(run(['logs', id]).stdout).toBe('a\nb\n');
    expect(mounted(id)).toBe(false);
    run(['rm', id]);
    const rmId = run(['run', '-d', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'sleep 0.5; exit 4']).stdout.trim();
    for (let i = 0; i < 100 && existsSync(join(root, 'containers', rmId)); i++) sleepMs(50);
    expect(existsSync(join(root, 'containers', rmId))).toBe(false);
    expect(runcKnows(rmId)).toBe(false);
  });

  it('RU-12 a SIGKILLed monitor is reconciled by ps: no orphan process, mount or runc state', () => {
    const id = run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']).stdout.trim();
    const st = inspect(id).State;
    expect(st.ConmonPid).toBeGreaterThan(0);
    process.kill(st.ConmonPid, 'SIGKILL');
    sleepMs(100);
    expect(run(['ps', '-a', '--format', '{{.State}}', '--filter', `id=${id}`]).stdout).toBe('exited\n');
    expect(gone(st.Pid)).toBe(true);
    expect(mounted(id)).toBe(false);
    expect(runcKnows(id)).toBe(false);
    expect(run(['rm', '-f', id]).status).toBe(0);
    expect(existsSync(join(root, 'containers', id))).toBe(false);
  });

  it('RU-12 killing the container init records 137', () => {
    const id = run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']).stdout.trim();
    process.kill(inspect(id).State.Pid, 'SIGKILL');
    expect(run(['wait', id]).stdout).toBe('137\n');
    expect(mounted(id)).toBe(false);
    run(['rm', id]);
  });

  it('RU-14 gc while a container runs keeps its image blobs; rm releases them', async () => {
    const id = run(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']).stdout.trim();
    const store = await openStore(root);
    try {
      const desc = await store.layout.resolve('localhost/busybox:latest');
      await store.layout.untag('localhost/busybox:latest');
      await store.gc();
      expect(await store.blobs.has(desc.digest)).toBe(true);
      expect(run(['exec', id, 'true']).status).toBe(0);
      expect(run(['rm', '-f', id]).status).toBe(0);
      expect(existsSync(join(root, 'leases', `container-${id}.json`))).toBe(false);
    } finally {
      await store.close();
    }
    await makeBusyboxImage(root, scratch);
  });

  it('RU-06 image Volumes stay inside, labels are not options, a malformed StopSignal is rejected', async () => {
    const store = await openStore(root);
    try {
      await importTarball(store, busyboxTarball(scratch), { name: 'localhost/evil:latest', config: { Volumes: { '../../../../etc/skiff-ru06': {} }, Labels: { '--privileged': 'true', 'restart': 'always' }, Cmd: ['sh', '-c', 'ls -d /etc/skiff-ru06 && grep CapEff /proc/self/status'] } });
      await importTarball(store, busyboxTarball(scratch), { name: 'localhost/badsig:latest', config: { StopSignal: 'SIGTERM; rm -rf /', Cmd: ['true'] } });
    } finally {
      await store.close();
    }
    const r = run(['run', '--rm', '--network', 'none', 'evil']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('/etc/skiff-ru06');
    expect(r.stdout).toMatch(/CapEff:\s+00000000800405fb/);
    expect(existsSync('/etc/skiff-ru06')).toBe(false);
    const b = run(['run', '--rm', '--network', 'none', 'badsig']);
    expect(b.status).toBe(125);
    expect(b.stderr).toMatch(/invalid signal/);
    expect(readdirSync(join(root, 'containers')).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([]);
  });
});
