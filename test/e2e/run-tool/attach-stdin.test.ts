// `attach` and `start -a -i` with input: piped stdin reaches a container created with -i (through conmon's attach
// socket), its end closes the container's stdin; in a terminal (a pty from util-linux `script`) the detach keys
// leave the container running, the terminal comes back as it was, and a resize reaches the container's terminal.
// The same cases run against Debian's podman 4.3 (private --root/--runroot/--tmpdir) and must match.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon } from './core-helpers.ts';

const IMG = 'localhost/busybox:latest';
const has = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0;
const hasPodman = existsSync('/usr/bin/podman');

type Tool = { name: 'run-tool' | 'podman'; argv: (args: string[]) => string[]; env: NodeJS.ProcessEnv };

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !has('socat') || !has('script'))('attach with stdin, detach keys and a terminal', () => {
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
  const exitCodeOf = (t: Tool, name: string) => ok(t, ['inspect', '--format', '{{.State.ExitCode}}', name]).trim();
  const statusOf = (t: Tool, name: string) => ok(t, ['inspect', '--format', '{{.State.Status}}', name]).trim();
  /** What a command prints and its exit code, ids and the tool's name normalised, for a side-by-side comparison. */
  const outcome = (t: Tool, args: string[], input = '') => {
    const x = call(t, args, input);
    return `${args.join(' ')} → ${x.status} out=${JSON.stringify(x.stdout)} err=${JSON.stringify(x.stderr.split('\n')[0]!.replace(/[0-9a-f]{64}/g, '<id>'))}`;
  };

  /**
   * Runs `shell` (a command line using $T for the tool) in a pty made by `script`; `steps` are pairs of an output
   * to wait for (a RegExp over everything printed so far; undefined: none) and the bytes to type then. Resolves
   * with all the output and the exit code once the pty's command ends.
   */
  const inPty = async (t: Tool, shell: string, steps: [RegExp | undefined, string | (() => Promise<void>)][]): Promise<{ out: string; code: number | null }> => {
    const tool = t.argv([]).map((a) => `'${a}'`).join(' ');
    const p = spawn('script', ['-qfec', shell.replaceAll('$T', tool), '/dev/null'], { env: t.env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString('latin1')));
    p.stderr!.on('data', (b: Buffer) => (out += b.toString('latin1')));
    const ended = new Promise<number | null>((res) => p.once('exit', (c) => res(c)));
    for (const [wait, type] of steps) {
      for (let i = 0; wait && !wait.test(out) && i < 300 && p.exitCode === null; i++) await new Promise((res) => setTimeout(res, 100));
      if (wait && !wait.test(out)) throw new Error(`${t.name}: no ${wait} in ${JSON.stringify(out)}`);
      if (typeof type === 'function') {
        await type();
        continue;
      }
      // one key per write: podman looks for its detach keys one read at a time
      for (const ch of type) {
        p.stdin!.write(ch);
        await new Promise((res) => setTimeout(res, 60));
      }
    }
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const code = await ended;
    clearTimeout(timer);
    return { out, code };
  };

  beforeAll(async () => {
    const bundle = await buildRunTool();
    const s = await scratchDir('skiff-attach-in-');
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

  it('piped input reaches a -i container; its end closes the stdin; the output and exit codes are podman\'s', () => {
    const seen: Record<string, string[]> = {};
    for (const t of tools()) {
      const lines: string[] = [];
      ok(t, ['run', '-d', '-i', '--network', 'none', '--name', 'rd', IMG, 'sh', '-c', 'read x; echo got $x; exit 3']);
      ok(t, ['run', '-d', '-i', '--network', 'none', '--name', 'ct', IMG, 'cat']);
      lines.push(outcome(t, ['attach', 'rd'], 'hello\n'), exitCodeOf(t, 'rd'));
      lines.push(outcome(t, ['attach', 'ct'], 'a\nb\n'), exitCodeOf(t, 'ct'));
      // --no-stdin: nothing arrives (read gives up after 3 s)
      ok(t, ['run', '-d', '-i', '--network', 'none', '--name', 'ns', IMG, 'sh', '-c', 'read -t 3 x; echo "x=$x"']);
      lines.push(outcome(t, ['attach', '--no-stdin', 'ns'], 'zz\n'));
      // a container without -i takes no input; attach still ends with it
      ok(t, ['run', '-d', '--network', 'none', '--name', 'ni', IMG, 'sh', '-c', 'sleep 2; read x; echo "x=$x"']);
      lines.push(outcome(t, ['attach', 'ni'], 'zz\n'));
      // errors: not running, no such container, bad keys
      lines.push(outcome(t, ['attach', 'rd']), outcome(t, ['attach', 'nosuch']));
      seen[t.name] = lines;
    }
    expect(seen['run-tool']).toEqual([
      'attach rd → 0 out="got hello\\n\\n" err=""', '3',
      'attach ct → 0 out="a\\nb\\n\\n" err=""', '0',
      'attach --no-stdin ns → 0 out="x=\\n\\n" err=""',
      'attach ni → 0 out="x=\\n\\n" err=""',
      'attach rd → 125 out="" err="Error: you can only attach to running containers"',
      'attach nosuch → 125 out="" err="Error: no container with name or ID \\"nosuch\\" found: no such container"',
    ]);
    if (pm) expect(seen['run-tool']).toEqual(seen.podman);
  }, 120_000);

  it('start -a -i feeds a created -i container and exits with its code; start -a shows only this run\'s output', () => {
    const seen: Record<string, string[]> = {};
    for (const t of tools()) {
      ok(t, ['create', '-i', '--network', 'none', '--name', 'si', IMG, 'sh', '-c', 'read x; echo got $x; echo e >&2; exit 4']);
      ok(t, ['create', '--network', 'none', '--name', 'sa', IMG, 'sh', '-c', 'echo o; exit 5']);
      seen[t.name] = [
        outcome(t, ['start', '-a', '-i', 'si'], 'hey\n'),
        outcome(t, ['start', '-a', 'sa']),
        outcome(t, ['start', '-a', 'sa']), // a second run: the first run's line is not printed again
        outcome(t, ['start', '-a', 'si', 'sa']),
        outcome(t, ['start', '-i', 'sa']),
      ];
    }
    expect(seen['run-tool']).toEqual([
      'start -a -i si → 4 out="got hey\\n" err="e"',
      'start -a sa → 5 out="o\\n" err=""',
      'start -a sa → 5 out="o\\n" err=""',
      'start -a si sa → 125 out="" err="Error: you cannot start and attach multiple containers at once"',
      'start -i sa → 0 out="sa\\n" err=""',
    ]);
    if (pm) expect(seen['run-tool']).toEqual(seen.podman);
  }, 120_000);

  it('in a terminal: typed input reaches a -it shell, the detach keys leave it running, the terminal is restored, a resize reaches it', async () => {
    const restored = (out: string) => {
      const modes = out.slice(out.lastIndexOf('rc=')).split(/\s+/);
      return ['opost', 'icanon', 'echo', 'isig', 'icrnl'].every((m) => modes.includes(m));
    };
    for (const t of tools()) {
      ok(t, ['run', '-d', '-i', '-t', '--network', 'none', '--name', 'tt', IMG, 'sh']);
      const go = join(dir, `resize-${t.name}`);
      // the pty starts at 33x91; when the test says so, a background job resizes it (the kernel sends SIGWINCH)
      const first = await inPty(t, `stty cols 91 rows 33; (while [ ! -e ${go} ]; do sleep 0.1; done; stty cols 120 rows 50 </dev/tty) & $T attach tt; echo "rc=$?"; stty -a`, [
        [undefined, 'echo one-$((6*7)); stty size\r'],
        [/one-42\r?\n33 91/, async () => {
          writeFileSync(go, '');
          await new Promise((res) => setTimeout(res, 1500));
        }],
        [undefined, 'stty size\r'],
        [/50 120/, '\x10\x11'], // ctrl-p, ctrl-q
      ]);
      expect(first.out, t.name).toMatch(/rc=0/);
      expect(restored(first.out), `${t.name}: ${first.out}`).toBe(true);
      // raw output: the container's terminal sends \r\n, passed as it is (not made \r\r\n)
      expect(first.out, t.name).toMatch(/\r\n33 91\r\n/);
      expect(first.out, t.name).not.toContain('\r\r\n');
      expect(statusOf(t, 'tt'), t.name).toBe('running');
      // attached again (its input was not closed by the detach), with other keys
      const second = await inPty(t, `$T attach --detach-keys ctrl-x tt; echo "rc=$?"; stty -a`, [
        [undefined, 'echo two-$((6*7))\r'],
        [/two-42/, '\x18'],
      ]);
      expect(second.out, t.name).toMatch(/rc=0/);
      expect(statusOf(t, 'tt'), t.name).toBe('running');
      // the shell exits while attached: attach ends with it (exit 0, as podman), the terminal restored
      const third = await inPty(t, `$T attach tt; echo "rc=$?"; stty -a`, [[undefined, 'exit 3\r']]);
      expect(third.out, t.name).toMatch(/rc=0/);
      expect(restored(third.out), `${t.name}: ${third.out}`).toBe(true);
      expect(exitCodeOf(t, 'tt'), t.name).toBe('3');
    }
  }, 180_000);

  it('--sig-proxy=false: a signal ends the attach (SIGTERM: 0) and leaves the container running; the default passes it on', async () => {
    const t = sk;
    ok(t, ['run', '-d', '--network', 'none', '--name', 'sp', IMG, 'sh', '-c', 'trap "echo term; exit 9" TERM; echo up; while :; do sleep 0.1; done']);
    const attach = async (args: string[]) => {
      const [cmd, ...rest] = t.argv(['attach', ...args, 'sp']);
      const p = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(p);
      let out = '';
      p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      // attached once the start-up is over: give it time to install its handlers
      await new Promise((res) => setTimeout(res, 1500));
      p.kill('SIGTERM');
      const code = await new Promise<number | null>((res) => p.once('exit', (c) => res(c)));
      return { code, out };
    };
    // podman 4.3 ends it with 0 and no newline of its own (start-attach.test.ts compares both side by side)
    expect(await attach(['--sig-proxy=false'])).toEqual({ code: 0, out: '' });
    expect(statusOf(t, 'sp')).toBe('running');
    expect((await attach([])).code).toBe(0);
    expect(exitCodeOf(t, 'sp')).toBe('9');
  }, 60_000);
});
