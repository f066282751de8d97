// What systemd units need from run-tool: --cidfile, --sdnotify, --replace, --cgroups, stop/rm --cidfile -i and
// start --all --filter restart-policy=always. sd_notify is received on a real AF_UNIX datagram socket (python3's,
// as Node has none), the way a Type=notify unit's manager would receive it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt } from '../run-tool/core-helpers.ts';

let bundle = '';
let root = '';
let dir = '';
let cleanup: (() => Promise<void>) | undefined;
const run = (args: string[]) => rt(bundle, root, args);
const inspect = (name: string, fmt: string) => run(['inspect', '--format', fmt, name]).stdout.trim();

/** Receives datagrams on a unix socket at `path` until `count` arrived (or 20 s passed); resolves with them. */
function notifyReceiver(path: string, count: number): { ready: Promise<void>; messages: Promise<string[]> } {
  const py = [
    'import socket,sys', 's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)', `s.bind(${JSON.stringify(path)})`, 's.settimeout(20)',
    'print("bound",flush=True)', `for i in range(${count}):`, '  d=s.recv(4096)', '  print(d.decode().replace("\\n"," "),flush=True)',
  ].join('\n');
  const p = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onBound: () => void = () => {};
  const ready = new Promise<void>((r) => (onBound = r));
  p.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.startsWith('bound\n')) onBound();
  });
  const messages = new Promise<string[]>((r) => p.on('exit', () => r(out.split('\n').slice(1).filter(Boolean))));
  return { ready, messages };
}

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('run-tool: what systemd units need', () => {
  beforeAll(async () => {
    bundle = await buildRunTool();
    const sd = await scratchDir('skiff-sdflags-');
    cleanup = sd.cleanup;
    dir = sd.dir;
    root = join(dir, 'root');
    await makeBusyboxImage(root, dir);
  }, 120_000);
  afterAll(async () => {
    if (root) run(['rm', '-a', '-f']);
    await cleanup?.();
  });

  it('run --cidfile writes the ID; a second run with the same cid file is refused and leaves no container', () => {
    const cid = join(dir, 'a.ctr-id');
    const r = run(['run', '-d', '--network', 'none', '--cidfile', cid, '--name', 'cid1', 'busybox', 'sleep', '1000']);
    expect(r.stderr).toBe('');
    expect(readFileSync(cid, 'utf8')).toBe(r.stdout.trim());
    const again = run(['create', '--network', 'none', '--cidfile', cid, '--name', 'cid2', 'busybox', 'true']);
    expect(again.status).toBe(125);
    expect(again.stderr).toContain(`container id file exists. Ensure another container is not using it or delete ${cid}`);
    expect(run(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toContain('cid2');
    // stop and rm through the cid file; rm removes the file too
    const st = run(['stop', '-t', '0', '--cidfile', cid]);
    expect(st.status).toBe(0);
    expect(inspect('cid1', '{{.State.Status}}')).toBe('exited');
    const rm = run(['rm', '-f', '--cidfile', cid]);
    expect(rm.status).toBe(0);
    expect(rm.stdout.trim()).toBe(r.stdout.trim());
    expect(existsSync(cid)).toBe(false);
    expect(run(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toContain('cid1');
  });

  it('stop/rm --cidfile: a missing file is an error without -i and nothing with it', () => {
    const gone = join(dir, 'gone.ctr-id');
    expect(run(['stop', '--cidfile', gone]).status).not.toBe(0);
    expect(run(['rm', '-f', '--cidfile', gone]).status).not.toBe(0);
    const s = run(['stop', '--ignore', '-t', '0', '--cidfile', gone]);
    expect([s.status, s.stdout, s.stderr]).toEqual([0, '', '']);
    const r = run(['rm', '-f', '--ignore', '--cidfile', gone]);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
    // a file naming a container that is gone is ignored too (a unit's ExecStopPost after the container went)
    writeFileSync(gone, 'f'.repeat(64));
    expect(run(['rm', '-f', '--ignore', '--cidfile', gone]).status).toBe(0);
  });

  it('--replace removes the running container of that name first; without it the name clash is an error', () => {
    const a = run(['run', '-d', '--network', 'none', '--name', 'rep', 'busybox', 'sleep', '1000']).stdout.trim();
    const clash = run(['run', '-d', '--network', 'none', '--name', 'rep', 'busybox', 'sleep', '1000']);
    expect(clash.status).toBe(125);
    const b = run(['run', '-d', '--network', 'none', '--replace', '--name', 'rep', 'busybox', 'sleep', '1000']);
    expect(b.stderr).toBe('');
    expect(b.stdout.trim()).not.toBe(a);
    expect(run(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}']).stdout.split('\n').filter((l) => l.endsWith(' rep'))).toEqual([`${b.stdout.trim()} rep`]);
    run(['rm', '-f', 'rep']);
  });

  it('--cgroups: no-conmon and split run; disabled (as root: runc needs a cgroup, as podman says) and nonsense are refused with one line', () => {
    for (const m of ['enabled', 'no-conmon', 'split']) {
      const r = run(['run', '--rm', '--network', 'none', `--cgroups=${m}`, 'busybox', 'true']);
      expect([m, r.status, r.stderr]).toEqual([m, 0, '']);
    }
    const d = run(['run', '--rm', '--network', 'none', '--cgroups=disabled', 'busybox', 'true']);
    expect(d.status).toBe(125);
    expect(d.stderr).toBe('Error: requested OCI runtime runc is not compatible with NoCgroups: --cgroups=disabled needs a rootless container here; run it as an ordinary user, or use --cgroups=no-conmon or split\n');
    expect(run(['ps', '-a', '-q']).stdout).toBe('');
    const x = run(['run', '--rm', '--network', 'none', '--cgroups=maybe', 'busybox', 'true']);
    expect(x.status).toBe(125);
    expect(x.stderr).toContain('invalid --cgroups "maybe"');
    expect(run(['create', '--sdnotify=always', 'busybox', 'true']).stderr).toContain('invalid --sdnotify "always"');
  });

  it('--sdnotify=conmon sends MAINPID (the monitor) and READY=1 to $NOTIFY_SOCKET once the container runs', async () => {
    const sock = join(dir, 'notify.sock');
    const rx = notifyReceiver(sock, 1);
    await rx.ready;
    const r = spawnSync(process.execPath, [bundle, '--root', root, 'run', '-d', '--network', 'none', '--sdnotify=conmon', '--name', 'sdn', 'busybox', 'sh', '-c', 'env; exec sleep 1000'], { encoding: 'utf8', env: { ...process.env, NOTIFY_SOCKET: sock } });
    expect(r.stderr).toBe('');
    const msgs = await rx.messages;
    const conmonPid = inspect('sdn', '{{.State.ConmonPid}}');
    expect(msgs).toEqual([`MAINPID=${conmonPid} READY=1`]);
    expect(run(['logs', 'sdn']).stdout).not.toContain('NOTIFY_SOCKET');
    run(['rm', '-f', 'sdn']);
  });

  it('--sdnotify=ignore sends nothing, nor does a run without NOTIFY_SOCKET; start of a conmon-mode container notifies', async () => {
    const sock = join(dir, 'notify2.sock');
    const rx = notifyReceiver(sock, 1);
    await rx.ready;
    const env = { ...process.env, NOTIFY_SOCKET: sock };
    const ig = spawnSync(process.execPath, [bundle, '--root', root, 'run', '-d', '--network', 'none', '--sdnotify=ignore', '--name', 'sdi', 'busybox', 'sleep', '1000'], { encoding: 'utf8', env });
    expect(ig.status).toBe(0);
    expect(run(['create', '--network', 'none', '--sdnotify=conmon', '--name', 'sdc', 'busybox', 'sleep', '1000']).status).toBe(0);
    const st = spawnSync(process.execPath, [bundle, '--root', root, 'start', 'sdc'], { encoding: 'utf8', env });
    expect(st.stderr).toBe('');
    // the one message is sdc's: sdi sent none
    expect(await rx.messages).toEqual([`MAINPID=${inspect('sdc', '{{.State.ConmonPid}}')} READY=1`]);
    run(['rm', '-f', 'sdi', 'sdc']);
  });

  it('start --all --filter restart-policy=always starts exactly the stopped containers with that policy', () => {
    const alw = run(['create', '--network', 'none', '--restart', 'always', '--name', 'alw', 'busybox', 'sleep', '1000']).stdout.trim();
    run(['create', '--network', 'none', '--restart', 'no', '--name', 'nop', 'busybox', 'sleep', '1000']);
    const r = run(['start', '--all', '--filter', 'restart-policy=always']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${alw}\n`);
    expect(inspect('alw', '{{.State.Status}}')).toBe('running');
    expect(inspect('nop', '{{.State.Status}}')).toBe('created');
    // repeating it starts nothing more
    expect(run(['start', '--all', '--filter', 'restart-policy=always']).stdout).toBe('');
    expect(run(['start', '--all', 'alw']).status).toBe(125);
    run(['rm', '-f', 'alw', 'nop']);
  });
});
