// `start -a` (with or without -i) is one attach session over the log descriptor opened before the start: a --rm
// container's whole output and recorded exit code, signals passed on to the container (--sig-proxy, default true),
// and podman's exit codes when the command cannot be started. The same cases run against Debian's podman 4.3
// (private --root/--runroot/--tmpdir) and must match.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon } from './core-helpers.ts';

const IMG = 'localhost/busybox:latest';
const hasPodman = existsSync('/usr/bin/podman');

type Tool = { name: 'run-tool' | 'podman'; argv: (args: string[]) => string[]; env: NodeJS.ProcessEnv };

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('start -a: one attach session over the log opened before the start', () => {
  let dir = '';
  let cleanup: (() => Promise<void>) | undefined;
  let sk: Tool;
  let pm: Tool | undefined;
  const children: ChildProcess[] = [];
  const tools = (): Tool[] => (pm ? [sk, pm] : [sk]);
  const call = (t: Tool, args: string[], input = '') => {
    const [cmd, ...rest] = t.argv(args);
    return spawnSync(cmd!, rest, { encoding: 'utf8', input, env: t.env, timeout: 60_000, killSignal: 'SIGKILL' });
  };
  const ok = (t: Tool, args: string[], input = ''): string => {
    const x = call(t, args, input);
    if (x.status !== 0) throw new Error(`${t.name} ${args.join(' ')} → ${x.status}: ${x.stderr}`);
    return x.stdout;
  };
  /** What a command prints and its exit code, ids, paths and the tool's name normalised, for a side-by-side comparison. */
  const outcome = (t: Tool, args: string[], input = '') => {
    const x = call(t, args, input);
    const err = x.stderr.split('\n').filter((l) => l !== '' && !/^time=/.test(l))[0] ?? '';
    return `${args.join(' ')} → ${x.status} out=${JSON.stringify(x.stdout)} err=${JSON.stringify(err.replace(/[0-9a-f]{64}/g, '<id>'))}`;
  };

  beforeAll(async () => {
    const bundle = await buildRunTool();
    const s = await scratchDir('skiff-start-attach-');
    dir = s.dir;
    cleanup = s.cleanup;
    const root = join(dir, 'store');
    sk = { name: 'run-tool', argv: (args) => [process.execPath, bundle, '--root', root, ...args], env: process.env };
    await makeBusyboxImage(root, dir);
    if (hasPodman) {
      const conf = join(dir, 'containers.conf');
      writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n[network]\nnetwork_backend = "netavark"\n');
      const podmanArgs = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'overlay'];
      pm = { name: 'podman', argv: (args) => ['podman', ...podmanArgs, ...args], env: { ...process.env, CONTAINERS_CONF: conf } };
      ok(sk, ['save', '-o', join(dir, 'bb.tar'), IMG]);
      ok(pm, ['load', '-i', join(dir, 'bb.tar')]);
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (!dir) return;
    for (const t of tools()) call(t, ['rm', '-af', '-t', '0']);
    if (pm) call(pm, ['rmi', '-af']);
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    await cleanup?.();
  });

  it('start -a -i of a --rm container prints its whole output and exits with its code', () => {
    const seen: Record<string, string[]> = {};
    for (const t of tools()) {
      // output at once, then gone: nothing of it may be lost between the start and the attach
      const burst = 'i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done; echo err >&2; exit 7';
      ok(t, ['create', '--rm', '-i', '--network', 'none', '--name', 'rmi', IMG, 'sh', '-c', burst]);
      ok(t, ['create', '--rm', '--network', 'none', '--name', 'rma', IMG, 'sh', '-c', burst]);
      ok(t, ['create', '--rm', '-i', '--network', 'none', '--name', 'rmr', IMG, 'sh', '-c', 'read x; echo got $x; exit 6']);
      seen[t.name] = [outcome(t, ['start', '-a', '-i', 'rmi']), outcome(t, ['start', '-a', 'rma']), outcome(t, ['start', '-a', '-i', 'rmr'], 'hi\n')];
      seen[t.name]!.push(outcome(t, ['container', 'exists', 'rmi']), outcome(t, ['container', 'exists', 'rmr']));
    }
    const lines = Array.from({ length: 200 }, (_, i) => `line${i}\n`).join('');
    expect(seen['run-tool']).toEqual([
      `start -a -i rmi → 7 out=${JSON.stringify(lines)} err="err"`,
      `start -a rma → 7 out=${JSON.stringify(lines)} err="err"`,
      'start -a -i rmr → 6 out="got hi\\n" err=""',
      'container exists rmi → 1 out="" err=""',
      'container exists rmr → 1 out="" err=""',
    ]);
    if (pm) expect(seen['run-tool']).toEqual(seen.podman);
  }, 120_000);

  it('SIGTERM to start -a (with and without -i) reaches the container; without the proxy a signal ends start -a or attach as podman\'s does', async () => {
    const results: Record<string, unknown[]> = {};
    const loop = 'trap "echo term; exit 9" TERM; echo up; while :; do sleep 0.1; done';
    for (const t of tools()) {
      /** Runs `args`, waits for the container's "up" (or a moment for an attach), sends `sig`, then sees how it ended. */
      const signalled = async (name: string, args: string[], sig: NodeJS.Signals) => {
        const [cmd, ...rest] = t.argv(args);
        const p = spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'pipe'], env: t.env });
        children.push(p);
        let out = '';
        p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        const ended = new Promise<number | null>((res) => p.once('exit', (c) => res(c)));
        if (args[0] === 'attach') await new Promise((res) => setTimeout(res, 2000));
        for (let i = 0; i < 200 && args[0] === 'start' && !out.includes('up'); i++) await new Promise((res) => setTimeout(res, 50));
        p.kill(sig);
        const code = await ended;
        const state = ok(t, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name]).trim();
        return { args: args.slice(0, -1).join(' '), sig, code, out, state };
      };
      const created = (name: string) => (ok(t, ['create', '-i', '--network', 'none', '--name', name, IMG, 'sh', '-c', loop]), name);
      const r = [
        await signalled('s1', ['start', '-a', created('s1')], 'SIGTERM'),
        await signalled('s2', ['start', '-a', '-i', created('s2')], 'SIGTERM'),
        await signalled('s3', ['start', '-a', '--sig-proxy=false', created('s3')], 'SIGTERM'),
        await signalled('s3', ['attach', '--sig-proxy=false', 's3'], 'SIGTERM'),
        await signalled('s3', ['attach', '--sig-proxy=false', 's3'], 'SIGINT'),
      ];
      call(t, ['rm', '-f', '-t', '0', 's4']);
      r.push(await signalled('s4', ['start', '-a', '--sig-proxy=false', created('s4')], 'SIGINT'));
      results[t.name] = r;
      call(t, ['rm', '-f', '-t', '0', 's3', 's4']);
    }
    expect(results['run-tool']).toEqual([
      { args: 'start -a', sig: 'SIGTERM', code: 9, out: 'up\nterm\n', state: 'exited 9' },
      { args: 'start -a -i', sig: 'SIGTERM', code: 9, out: 'up\nterm\n', state: 'exited 9' },
      { args: 'start -a --sig-proxy=false', sig: 'SIGTERM', code: 0, out: 'up\n', state: 'running 0' },
      { args: 'attach --sig-proxy=false', sig: 'SIGTERM', code: 0, out: '', state: 'running 0' },
      { args: 'attach --sig-proxy=false', sig: 'SIGINT', code: 1, out: '', state: 'running 0' },
      { args: 'start -a --sig-proxy=false', sig: 'SIGINT', code: 1, out: 'up\n', state: 'running 0' },
    ]);
    if (pm) expect(results['run-tool']).toEqual(results.podman);
  }, 180_000);

  it('a command that does not exist or cannot run: the exit codes and messages are podman\'s for run, start and start -a', () => {
    const seen: Record<string, string[]> = {};
    for (const t of tools()) {
      ok(t, ['create', '--network', 'none', '--name', 'nx', IMG, '/nosuch']);
      ok(t, ['create', '--network', 'none', '--name', 'np', IMG, '/etc/passwd']);
      seen[t.name] = [
        outcome(t, ['run', '--rm', '--network', 'none', IMG, '/nosuch']),
        outcome(t, ['run', '--rm', '--network', 'none', IMG, '/etc/passwd']),
        outcome(t, ['start', 'nx']),
        outcome(t, ['start', '-a', 'nx']),
        outcome(t, ['start', '-a', '-i', 'np']),
        outcome(t, ['start', 'np']),
      ];
    }
    if (pm) expect(seen['run-tool']).toEqual(seen.podman);
    expect(seen['run-tool']!.map((l) => l.split(' out=')[0])).toEqual([
      `run --rm --network none ${IMG} /nosuch → 127`,
      `run --rm --network none ${IMG} /etc/passwd → 126`,
      'start nx → 125',
      'start -a nx → 125',
      'start -a -i np → 125',
      'start np → 125',
    ]);
  }, 120_000);
});
