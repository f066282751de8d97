// The everyday commands podman users type: events (and the API's /events over the same log), version, pause/unpause,
// init, the container/image groups, system df and system reset — with real runc and conmon, bad input included.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildRunTool, hasConmon, rt } from './core-helpers.ts';

const IMG = 'localhost/busybox:latest';

describe.skipIf(!isRoot || !hasBusybox || !hasConmon)('everyday commands: events, version, pause, init, groups, system df/reset', () => {
  let bundle = '';
  let dir = '';
  let root = '';
  let cleanup: (() => Promise<void>) | undefined;
  const children: ChildProcess[] = [];
  const r = (args: string[], o: { input?: string } = {}) => rt(bundle, root, args, o);
  const ok = (args: string[]): string => {
    const x = r(args);
    if (x.status !== 0) throw new Error(`run-tool ${args.join(' ')} → ${x.status}: ${x.stderr}`);
    return x.stdout;
  };
  /** A failure as the house rule wants it: non-zero, one line on stderr, nothing on stdout. */
  const failsCleanly = (args: string[], code: number, message: RegExp) => {
    const x = r(args);
    expect(x.status, `${args.join(' ')}: ${x.stderr}`).toBe(code);
    expect(x.stderr.trim().split('\n'), x.stderr).toHaveLength(1);
    expect(x.stderr).toMatch(message);
    expect(x.stdout).toBe('');
  };
  const events = (...args: string[]): { Status: string; Name: string; Type: string; ID?: string; ContainerExitCode?: number }[] =>
    ok(['events', '--stream=false', '--format', 'json', ...args]).split('\n').filter(Boolean).map((l) => JSON.parse(l));

  beforeAll(async () => {
    bundle = await buildRunTool();
    const s = await scratchDir('skiff-everyday-');
    dir = s.dir;
    cleanup = s.cleanup;
    root = join(dir, 'store');
    await makeBusyboxImage(root, dir);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    if (root) r(['rm', '-af', '-t', '0']);
    await cleanup?.();
  });

  it('events: the operations write the log; --stream=false replays it with filters, json and templates', () => {
    ok(['run', '-d', '--network', 'none', '--name', 'ev1', '--label', 'app=web', IMG, 'sleep', '60']);
    ok(['pause', 'ev1']);
    ok(['unpause', 'ev1']);
    ok(['stop', '-t', '0', 'ev1']);
    ok(['rm', 'ev1']);
    ok(['tag', IMG, 'localhost/ev-tag:1']);
    ok(['untag', 'localhost/ev-tag:1', 'localhost/ev-tag:1']);
    const mine = events('--filter', 'container=ev1');
    expect(mine.map((e) => e.Status)).toEqual(['create', 'init', 'start', 'pause', 'unpause', 'died', 'cleanup', 'stop', 'remove']);
    expect(mine.find((e) => e.Status === 'died')?.ContainerExitCode).toBe(137);
    expect(events('--filter', 'type=image').map((e) => `${e.Status} ${e.Name}`)).toEqual(['tag localhost/ev-tag:1', 'untag localhost/ev-tag:1']);
    // docker's `die` names podman's `died`; values of one key OR, keys AND
    expect(events('--filter', 'event=die', '--filter', 'event=pause', '--filter', 'label=app=web').map((e) => e.Status)).toEqual(['pause', 'died']);
    expect(events('--since', '1h', '--filter', 'event=create').length).toBeGreaterThan(0);
    expect(events('--until', '2000-01-01T00:00:00Z')).toEqual([]);
    const human = ok(['events', '--stream=false', '--filter', 'event=create']).trim();
    expect(human).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC container create [0-9a-f]{64} \(image=localhost\/busybox:latest, name=ev1, app=web\)$/);
    expect(ok(['events', '--stream=false', '--filter', 'event=died', '--format', '{{.Name}} {{.ContainerExitCode}} {{.Attributes}}'])).toBe('ev1 137 map[app:web]\n');
    expect(ok(['events', '--stream=false', '--filter', 'event=died', '--format', 'table {{.Name}} {{.Status}}'])).toMatch(/^NAME\s+STATUS\nev1\s+died\n$/);
    const log = readFileSync(join(root, 'events', 'events.log'), 'utf8');
    expect(log.trim().split('\n').every((l) => JSON.parse(l).Time)).toBe(true);
  }, 120_000);

  it('events: bad filters, times and templates fail in one line with 125 and print nothing', () => {
    failsCleanly(['events', '--stream=false', '--filter', 'bogus=1'], 125, /^Error: bogus is an invalid filter/);
    failsCleanly(['events', '--stream=false', '--filter', 'type=nope'], 125, /nope is an invalid event type/);
    failsCleanly(['events', '--stream=false', '--since', 'yesterday'], 125, /invalid --since "yesterday"/);
    failsCleanly(['events', '--stream=false', '--format', '{{.Nope}}'], 125, /can't evaluate field Nope in type \*events\.Event/);
    failsCleanly(['events', '--stream=false', '--format', '{{.Name'], 125, /template: events:1: unclosed action/);
  });

  it('events: a streaming reader sees what another process does, from now on', async () => {
    const p = spawn(process.execPath, [bundle, '--root', root, 'events', '--filter', 'container=ev2', '--format', '{{.Status}}'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((res) => setTimeout(res, 1500));
    ok(['create', '--network', 'none', '--name', 'ev2', IMG, 'true']);
    ok(['rm', 'ev2']);
    for (let i = 0; i < 50 && !out.includes('remove'); i++) await new Promise((res) => setTimeout(res, 100));
    p.kill('SIGTERM');
    expect(out).toBe('create\nremove\n');
  }, 60_000);

  it('API /events: since replays the log in Docker\'s shape; until ends the stream; a bad filter is a 400', async () => {
    const sock = join(dir, 'api.sock');
    const svc = spawn(process.execPath, [bundle, '--root', root, 'system', 'service', '--time', '0', `unix://${sock}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(svc);
    const get = (path: string) => new Promise<{ status: number; text: string }>((res, rej) => {
      const req = request({ socketPath: sock, path, agent: false }, (m) => {
        let t = '';
        m.on('data', (b: Buffer) => (t += b.toString()));
        m.on('end', () => res({ status: m.statusCode ?? 0, text: t }));
      });
      req.on('error', rej);
      req.end();
    });
    for (let i = 0; i < 200 && !(await get('/_ping').then((x) => x.status === 200, () => false)); i++) await new Promise((res) => setTimeout(res, 25));
    const now = Math.floor(Date.now() / 1000);
    const filters = encodeURIComponent(JSON.stringify({ container: ['ev1'], type: ['container'] }));
    const replay = await get(`/events?since=${now - 3600}&until=${now}&filters=${filters}`);
    expect(replay.status).toBe(200);
    const got = replay.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; status: string; Actor: { Attributes: Record<string, string> } });
    expect(got.map((e) => e.Action)).toEqual(['create', 'init', 'start', 'pause', 'unpause', 'die', 'cleanup', 'stop', 'destroy']);
    expect(got.find((e) => e.Action === 'die')?.Actor.Attributes).toMatchObject({ name: 'ev1', exitCode: '137', app: 'web', image: IMG });
    const bad = await get(`/events?filters=${encodeURIComponent(JSON.stringify({ type: ['nope'] }))}`);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/nope is an invalid event type/);
    svc.kill('SIGTERM');
  }, 60_000);

  it('version: podman\'s Client fields, --format json and templates (.Server. falls back to the client), no arguments', () => {
    const lines = ok(['version']).trimEnd().split('\n');
    expect(lines.map((l) => l.slice(0, 14).trim())).toEqual(['Client:', 'Version:', 'API Version:', 'Go Version:', 'Built:', 'OS/Arch:']);
    const j = JSON.parse(ok(['version', '--format', 'json'])) as { Client: Record<string, unknown> };
    expect(Object.keys(j.Client)).toEqual(['APIVersion', 'Version', 'GoVersion', 'GitCommit', 'BuiltTime', 'Built', 'OsArch', 'Os']);
    const v = String(j.Client.Version);
    expect(ok(['version', '--format', '{{.Client.Version}}'])).toBe(`${v}\n`);
    expect(ok(['version', '--format', '{{.Server.Version}}'])).toBe(`${v}\n`);
    expect(ok(['version', '--format', '{{.Version}}'])).toBe(`${v}\n`);
    failsCleanly(['version', 'extra'], 125, /`run-tool version` takes no arguments/);
  });

  it('pause/unpause: the cgroup freezer holds the processes; podman\'s messages for the wrong state', () => {
    ok(['run', '-d', '--network', 'none', '--name', 'pz', IMG, 'sleep', '60']);
    expect(ok(['pause', 'pz'])).toBe('pz\n');
    expect(ok(['ps', '--filter', 'name=pz', '--format', '{{.Status}}'])).toBe('Paused\n');
    // podman 4.3's JSON State is `paused`; --filter status= matches it, and a paused container is not `running`
    expect(ok(['ps', '--filter', 'name=pz', '--format', '{{.State}}'])).toBe('paused\n');
    expect((JSON.parse(ok(['ps', '--filter', 'name=pz', '--format', 'json'])) as { State: string }[])[0]!.State).toBe('paused');
    expect(ok(['ps', '--filter', 'status=paused', '--format', '{{.Names}}'])).toBe('pz\n');
    expect(ok(['ps', '--filter', 'name=pz', '--filter', 'status=running', '--format', '{{.Names}}'])).toBe('');
    const pid = Number(ok(['inspect', '--format', '{{.State.Pid}}', 'pz']).trim());
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/State:\s+[SD]/); // frozen tasks sleep in the freezer
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => /:freezer:/.test(l))?.split(':')[2];
    if (cg && existsSync(`/sys/fs/cgroup/freezer${cg}/freezer.state`)) expect(readFileSync(`/sys/fs/cgroup/freezer${cg}/freezer.state`, 'utf8').trim()).toBe('FROZEN');
    failsCleanly(['pause', 'pz'], 125, /is already paused: container state improper/);
    expect(ok(['unpause', 'pz'])).toBe('pz\n');
    failsCleanly(['unpause', 'pz'], 125, /is not paused, can't unpause: container state improper/);
    expect(ok(['pause', '--all']).trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(['unpause', '-a']).trim()).toMatch(/^[0-9a-f]{64}$/);
    ok(['create', '--network', 'none', '--name', 'pzc', IMG, 'true']);
    failsCleanly(['pause', 'pzc'], 125, /^Error: "created" is not running, can't pause: container state improper\n/);
    failsCleanly(['pause', 'nosuch'], 125, /no container with name or ID "nosuch" found: no such container/);
    failsCleanly(['pause'], 125, /you must provide at least one name or id/);
    ok(['rm', '-f', '-t', '0', 'pz', 'pzc']);
  }, 60_000);

  it('init: the container is made under its monitor, not started; start then runs it', () => {
    ok(['create', '--network', 'none', '--name', 'in1', IMG, 'sh', '-c', 'echo started; exit 4']);
    expect(ok(['init', 'in1'])).toBe('in1\n');
    expect(ok(['ps', '-a', '--filter', 'name=in1', '--format', '{{.Status}}'])).toBe('Initialized\n');
    expect(ok(['ps', '-a', '--filter', 'name=in1', '--format', '{{.State}}'])).toBe('initialized\n');
    expect((JSON.parse(ok(['ps', '-a', '--filter', 'name=in1', '--format', 'json'])) as { State: string; Status: string }[])[0]).toMatchObject({ State: 'initialized', Status: 'Initialized' });
    expect(ok(['ps', '-a', '--filter', 'status=initialized', '--format', '{{.Names}}'])).toBe('in1\n');
    expect(ok(['logs', 'in1'])).toBe('');
    failsCleanly(['init', 'in1'], 125, /has already been created in runtime: container state improper/);
    ok(['start', 'in1']);
    expect(r(['wait', 'in1']).stdout).toBe('4\n');
    expect(ok(['logs', 'in1'])).toBe('started\n');
    failsCleanly(['init', 'nosuch'], 125, /no container with name or ID "nosuch" found/);
    // an initialised container stops and is removed like a running one
    ok(['create', '--network', 'none', '--name', 'in2', IMG, 'sleep', '60']);
    ok(['init', 'in2']);
    ok(['stop', '-t', '0', 'in2']);
    expect(ok(['ps', '-a', '--filter', 'name=in2', '--format', '{{.Status}}'])).toMatch(/^Exited/);
    ok(['rm', 'in1', 'in2']);
  }, 60_000);

  it('container and image groups run the top-level commands; a missing or unknown subcommand fails in one line', () => {
    ok(['create', '--network', 'none', '--name', 'grp', IMG, 'true']);
    expect(ok(['container', 'ls', '-a', '--format', '{{.Names}}'])).toBe(ok(['ps', '-a', '--format', '{{.Names}}']));
    expect(ok(['container', 'list', '-a', '-q'])).toBe(ok(['ps', '-aq']));
    expect(ok(['image', 'ls'])).toBe(ok(['images']));
    expect(ok(['--root', root, 'image', 'inspect', '--format', '{{.Id}}', IMG])).toMatch(/^[0-9a-f]{64}\n$/);
    ok(['tag', IMG, 'localhost/grp:1']);
    expect(ok(['image', 'rm', 'localhost/grp:1'])).toBe('Untagged: localhost/grp:1\n');
    expect(ok(['container', 'inspect', '--format', '{{.Name}}', 'grp'])).toBe('grp\n');
    expect(r(['container', 'inspect', IMG]).status).toBe(125);
    ok(['container', 'rm', 'grp']);
    // podman prints the error on stderr and the group's usage on stdout
    const bare = r(['container']);
    expect(bare.status).toBe(125);
    expect(bare.stderr.trim().split('\n')).toEqual(["Error: missing command 'run-tool container COMMAND'"]);
    expect(bare.stdout).toMatch(/Usage: run-tool container/);
    // podman's two lines: the error and where to look
    const bogus = r(['image', 'bogus']);
    expect(bogus.status).toBe(125);
    expect(bogus.stderr.trim().split('\n')).toEqual(['Error: unrecognized command `run-tool image bogus`', "Try 'run-tool image --help' for more information"]);
    expect(bogus.stdout).toBe('');
    expect(ok(['image', '--help'])).toMatch(/ls\s+images/);
  }, 60_000);

  it('image prune removes dangling images only and prints their IDs; a "no" at the prompt removes nothing', () => {
    ok(['import', join(dir, 'busybox-rootfs.tar'), 'localhost/prune-me:1']);
    const id = ok(['images', '--format', '{{.ID}} {{.Repository}}']).split('\n').find((l) => l.endsWith(' localhost/prune-me'))!.split(' ')[0]!;
    expect(ok(['image', 'prune', '-f'])).toBe(''); // nothing dangling yet
    ok(['untag', 'localhost/prune-me:1']);
    expect(ok(['images', '-a', '--no-trunc', '--format', '{{.ID}}'])).toContain(id);
    const no = r(['image', 'prune'], { input: 'n\n' });
    expect(no.stdout).toBe('');
    expect(no.stderr).toMatch(/WARNING! This command removes all dangling images\./);
    const out = ok(['image', 'prune', '-f']).trim();
    expect(id).toContain(out.slice(0, 12));
    expect(ok(['images', '-a', '--no-trunc', '--format', '{{.ID}}'])).not.toContain(id);
    expect(ok(['images', '--format', '{{.Repository}}'])).toBe('localhost/busybox\n');
    expect(events('--filter', 'type=image', '--filter', 'event=remove').map((e) => e.ID)).toEqual([out]);
  }, 60_000);

  it('system df: podman\'s columns and counts, -v tables, json, templates; bad input in one line', () => {
    ok(['rm', '-af', '-t', '0']);
    ok(['run', '-d', '--network', 'none', '--name', 'df1', IMG, 'sh', '-c', 'echo x > /f; sleep 60']);
    ok(['volume', 'create', 'dfv']);
    const out = ok(['system', 'df']).split('\n');
    expect(out[0]).toBe('TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE');
    expect(out[1]).toMatch(/^Images {9}1 {11}1 {11}[0-9.]+MB +0B \(0%\)$/);
    expect(out[2]).toMatch(/^Containers {5}1 {11}1 {11}\d+B +0B \(0%\)$/);
    expect(out[3]).toBe('Local Volumes  1           0           0B          0B (0%)');
    const j = JSON.parse(ok(['system', 'df', '--format', 'json'])) as { Type: string; Total: number; RawSize: number }[];
    expect(j.map((x) => x.Type)).toEqual(['Images', 'Containers', 'Local Volumes']);
    expect(j[1]!.RawSize).toBeGreaterThan(0);
    expect(ok(['system', 'df', '--format', '{{.Type}}={{.Total}}'])).toBe('Images=1\nContainers=1\nLocal Volumes=1\n');
    const v = ok(['system', 'df', '-v']);
    expect(v).toMatch(/Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\nlocalhost\/busybox +latest/);
    expect(v).toMatch(/Containers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n[0-9a-f]{12} .* running +df1\n/);
    expect(v).toMatch(/Local Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\ndfv +0 +0B\n/);
    failsCleanly(['system', 'df', 'extra'], 125, /`run-tool system df` takes no arguments/);
    failsCleanly(['system', 'df', '--format', '{{.Nope}}'], 125, /can't evaluate field Nope/);
    ok(['rm', '-f', '-t', '0', 'df1']);
    ok(['volume', 'rm', 'dfv']);
    expect(events('--filter', 'volume=dfv').map((e) => `${e.Type} ${e.Status} ${e.Name}`)).toEqual(['volume create dfv', 'volume remove dfv']);
    ok(['pod', 'create', '--infra=false', '--name', 'evpod']);
    ok(['pod', 'rm', 'evpod']);
    expect(events('--filter', 'pod=evpod').map((e) => `${e.Type} ${e.Status} ${e.Name}`)).toEqual(['pod create evpod', 'pod remove evpod']);
  }, 60_000);

  it('system df sizes are `images`\' uncompressed sizes; SHARED/UNIQUE by podman\'s parent rule; commit notes its layer size', () => {
    ok(['rm', '-af', '-t', '0']);
    ok(['run', '--network', 'none', '--name', 'dfc', IMG, 'sh', '-c', 'head -c 300000 /dev/urandom > /blob']);
    const notes = join(root, 'cache', 'layer-sizes');
    const before = new Set(existsSync(notes) ? readdirSync(notes) : []);
    ok(['commit', '-q', 'dfc', 'localhost/dfchild:1']);
    // the committed layer's uncompressed size was counted as it streamed: a note, before anything listed sizes
    const added = readdirSync(notes).filter((n) => !before.has(n));
    expect(added).toHaveLength(1);
    expect(Number(readFileSync(join(notes, added[0]!), 'utf8'))).toBeGreaterThan(300_000);
    ok(['rm', '-f', 'dfc']);
    const imgs = JSON.parse(ok(['images', '--format', 'json'])) as { Names: string[]; Size: number }[];
    const size = (n: string) => imgs.find((i) => i.Names.some((x) => x.startsWith(n)))!.Size;
    const sum = JSON.parse(ok(['system', 'df', '--format', 'json'])) as { Type: string; RawSize: number; RawReclaimable: number }[];
    expect(sum[0]!.RawSize).toBe(imgs.reduce((n, i) => n + i.Size, 0));
    expect(sum[0]!.RawReclaimable).toBe(sum[0]!.RawSize);
    const rows = ok(['system', 'df', '-v']).split('\n');
    const row = (repo: string) => rows.find((l) => l.startsWith(`${repo} `))!.split(/ {2,}/);
    const base = row('localhost/busybox');
    const child = row('localhost/dfchild');
    // podman 4.3: an image another is built on shares all of it; the child shares its parent's size
    expect(base[5]).toBe(base[4]);
    expect(base[6]).toBe('0B');
    expect(child[5]).toBe(base[4]);
    expect(size('localhost/dfchild') - size('localhost/busybox')).toBeGreaterThan(300_000);
    expect(child[6]).toMatch(/^3\d\d(\.\d)?kB$/);
    ok(['rmi', 'localhost/dfchild:1']);
  }, 60_000);

  it('attach: the output from now on until the container stops; signals go to the container; detach keys checked first', async () => {
    ok(['run', '-d', '--network', 'none', '--name', 'at1', IMG, 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo before; sleep 4; echo out; echo err >&2; while :; do sleep 0.1; done']);
    await new Promise((res) => setTimeout(res, 400));
    const p = spawn(process.execPath, [bundle, '--root', root, 'attach', 'at1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    let err = '';
    p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    for (let i = 0; i < 100 && !err.includes('err'); i++) await new Promise((res) => setTimeout(res, 100));
    p.kill('SIGTERM'); // proxied: the container's trap answers, then attach ends with it
    const code = await new Promise<number | null>((res) => p.once('exit', (c) => res(c)));
    expect(code).toBe(0);
    expect(out).toBe('out\ngot-term\n\n'); // podman 4.3 ends an attach with a newline of its own
    expect(err).toBe('err\n');
    expect(ok(['inspect', '--format', '{{.State.ExitCode}}', 'at1'])).toBe('7\n');
    failsCleanly(['attach', 'at1'], 125, /^Error: you can only attach to running containers/);
    failsCleanly(['attach', '--detach-keys', 'ctrl-1', 'at1'], 125, /invalid detach keys "ctrl-1"/);
    failsCleanly(['attach', 'nosuch'], 125, /no container with name or ID "nosuch" found/);
    ok(['rm', 'at1']);
  }, 60_000);

  it('ps --sort, --size, --last and images --filter, --sort, --digests', () => {
    ok(['rm', '-af', '-t', '0']);
    ok(['create', '--network', 'none', '--name', 'b-second', IMG, 'true']);
    ok(['create', '--network', 'none', '--name', 'a-first', IMG, 'sh', '-c', 'true']);
    ok(['run', '--network', 'none', '--name', 'c-big', IMG, 'sh', '-c', 'head -c 50000 /dev/zero > /big']);
    expect(ok(['ps', '-a', '--format', '{{.Names}}'])).toBe('c-big\na-first\nb-second\n');
    expect(ok(['ps', '-a', '--sort', 'names', '--format', '{{.Names}}'])).toBe('a-first\nb-second\nc-big\n');
    expect(ok(['ps', '-a', '--sort', 'size', '--format', '{{.Names}}']).trim().split('\n').at(-1)).toBe('c-big');
    expect(ok(['ps', '--last', '2', '--format', '{{.Names}}'])).toBe('c-big\na-first\n');
    const sized = ok(['ps', '-a', '--size', '--filter', 'name=c-big']).split('\n');
    expect(sized[0]).toMatch(/NAMES +SIZE$/);
    expect(sized[1]).toMatch(/c-big +50(\.\d+)?kB \(virtual [0-9.]+MB\)$/);
    const j = JSON.parse(ok(['ps', '-a', '-s', '--format', 'json', '--filter', 'name=c-big'])) as { Size: { rootFsSize: number; rwSize: number } }[];
    expect(j[0]!.Size.rwSize).toBeGreaterThanOrEqual(50000);
    expect(j[0]!.Size.rootFsSize).toBeGreaterThan(500_000);
    failsCleanly(['ps', '--sort', 'bogus'], 125, /"bogus" is not a valid value/);
    failsCleanly(['ps', '--last', 'x'], 125, /invalid argument "x" for "--last" flag/);
    ok(['rm', '-a']);
    ok(['import', join(dir, 'busybox-rootfs.tar'), 'localhost/aaa:2']);
    expect(ok(['images', '--format', '{{.Repository}}'])).toBe('localhost/aaa\nlocalhost/busybox\n');
    expect(ok(['images', '--sort', 'repository', '--format', '{{.Repository}}'])).toBe('localhost/aaa\nlocalhost/busybox\n');
    expect(ok(['images', '--sort', 'tag', '--format', '{{.Tag}}'])).toBe('2\nlatest\n');
    expect(ok(['images', '--filter', 'reference=*/busy*', '--format', '{{.Repository}}'])).toBe('localhost/busybox\n');
    expect(ok(['images', '--filter', 'reference=aaa', '--format', '{{.Repository}}'])).toBe('localhost/aaa\n');
    expect(ok(['images', '--filter', 'before=localhost/aaa:2', '--format', '{{.Repository}}'])).toBe('localhost/busybox\n');
    expect(ok(['images', '--filter', 'since=localhost/busybox', '--format', '{{.Repository}}'])).toBe('localhost/aaa\n');
    expect(ok(['images', '--filter', 'dangling=true', '-q'])).toBe('');
    expect(ok(['images', '--digests']).split('\n')[0]).toMatch(/^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$/);
    expect(ok(['images', '--digests', '--filter', 'reference=localhost/busybox'])).toMatch(/latest +sha256:[0-9a-f]{64} +[0-9a-f]{12} /);
    failsCleanly(['images', '--sort', 'bogus'], 125, /"bogus" is not a valid field for sorting. Choose from: id, repository, size, tag, created/);
    failsCleanly(['images', '--filter', 'bogus=1'], 125, /unsupported image filter "bogus"/);
    failsCleanly(['images', '--filter', 'dangling=maybe'], 125, /non-boolean value "maybe" for dangling filter/);
    ok(['rmi', 'localhost/aaa:2']);
  }, 120_000);

  it('system reset removes everything in the store and nothing else; refuses a directory that is not a store', async () => {
    const other = join(dir, 'reset-store');
    await makeBusyboxImage(other, dir);
    const o = (args: string[], input = '') => rt(bundle, other, args, { input });
    expect(o(['run', '-d', '--network', 'none', '--name', 'rs1', IMG, 'sleep', '60']).status).toBe(0);
    const conmon = Number(readFileSync(join(other, 'containers', readdirSync(join(other, 'containers')).find((n) => /^[0-9a-f]{64}$/.test(n))!, 'conmon.pid'), 'utf8'));
    expect(o(['volume', 'create', 'rsv']).status).toBe(0);
    writeFileSync(join(other, 'notes.txt'), 'mine\n');
    const no = o(['system', 'reset'], 'n\n');
    expect(no.status).toBe(0);
    expect(o(['ps', '-aq']).stdout.trim()).not.toBe('');
    const yes = o(['system', 'reset', '-f']);
    expect(yes.status, yes.stderr).toBe(0);
    expect(yes.stderr).toMatch(/not part of the store: notes.txt/);
    expect(readdirSync(other)).toEqual(['notes.txt']);
    for (let i = 0; i < 50 && existsSync(`/proc/${conmon}`); i++) await new Promise((res) => setTimeout(res, 100)); // its exit command finishing
    expect(existsSync(`/proc/${conmon}`)).toBe(false);
    expect(readdirSync(other)).toEqual(['notes.txt']); // nor did that exit command recreate anything
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(other);
    // a directory with other things and no store in it is left alone
    const plain = join(dir, 'not-a-store');
    mkdirSync(join(plain, 'containers'), { recursive: true });
    writeFileSync(join(plain, 'precious'), 'x');
    const x = rt(bundle, plain, ['system', 'reset', '-f']);
    expect(x.status).toBe(125);
    expect(x.stderr.trim().split('\n')).toHaveLength(1);
    expect(x.stderr).toMatch(/is not a skiff store \(no images\/oci-layout\): nothing removed/);
    expect(readdirSync(plain).sort()).toEqual(['containers', 'precious']);
    failsCleanly(['system', 'reset', '-f', 'extra'], 125, /takes no arguments/);
  }, 120_000);
});

describe.skipIf(!isRoot || !hasBusybox || !hasConmon || !existsSync('/usr/bin/podman'))('everyday commands side by side with podman 4.3', () => {
  let bundle = '';
  let dir = '';
  let root = '';
  let cleanup: (() => Promise<void>) | undefined;
  let env: NodeJS.ProcessEnv = {};
  let podmanArgs: string[] = [];
  const pod = (args: string[]) => spawnSync('podman', [...podmanArgs, ...args], { encoding: 'utf8', env, timeout: 60_000 });
  const sk = (args: string[]) => rt(bundle, root, args);

  beforeAll(async () => {
    bundle = await buildRunTool();
    const s = await scratchDir('skiff-everyday-pd-');
    dir = s.dir;
    cleanup = s.cleanup;
    root = join(dir, 'store');
    const conf = join(dir, 'containers.conf');
    writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${join(dir, 'podman-events.log')}"\n[network]\nnetwork_backend = "netavark"\n`);
    env = { ...process.env, CONTAINERS_CONF: conf };
    podmanArgs = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'overlay'];
    await makeBusyboxImage(root, dir);
    const save = sk(['save', '-o', join(dir, 'bb.tar'), 'localhost/busybox']);
    if (save.status !== 0) throw new Error(save.stderr);
    const l = pod(['load', '-i', join(dir, 'bb.tar')]);
    if (l.status !== 0) throw new Error(l.stderr);
  }, 120_000);

  afterAll(async () => {
    if (!dir) return;
    sk(['rm', '-af', '-t', '0']);
    pod(['rm', '-af', '-t', '0']);
    pod(['rmi', '-af']);
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    await cleanup?.();
  });

  it('the same lifecycle writes the same container events (podman\'s own stop and double cleanup aside)', () => {
    for (const f of [sk, pod]) {
      for (const args of [['run', '-d', '--network', 'none', '--name', 'same', IMG, 'sleep', '60'], ['pause', 'same'], ['unpause', 'same'], ['rm', '-f', '-t', '0', 'same']]) {
        const x = f(args);
        expect(x.status, `${args.join(' ')}: ${x.stderr}`).toBe(0);
      }
    }
    const statuses = (f: typeof sk) => f(['events', '--stream=false', '--filter', 'container=same', '--format', '{{.Type}} {{.Status}} {{.Name}} {{.Image}}']).stdout.split('\n').filter((l) => l && !/ (stop|cleanup) /.test(l));
    expect(statuses(sk)).toEqual(statuses(pod));
    const keys = (f: typeof sk) => Object.keys(JSON.parse(f(['events', '--stream=false', '--filter', 'event=create', '--filter', 'container=same', '--format', 'json']).stdout.split('\n')[0]!) as object).sort();
    expect(keys(sk)).toEqual(keys(pod));
  }, 120_000);

  it('pause, unpause and init: same output, exit codes and first error line', () => {
    for (const f of [sk, pod]) expect(f(['create', '--network', 'none', '--name', 'pi', IMG, 'sleep', '60']).status).toBe(0);
    const cases = [['pause', 'pi'], ['unpause', 'pi'], ['pause', 'nosuch'], ['init', 'pi'], ['init', 'pi'], ['pause']];
    for (const args of cases) {
      const [a, b] = [sk(args), pod(args)];
      const norm = (s: string) => s.split('\n')[0]!.replace(/[0-9a-f]{64}/g, '<id>').replace(/; .*$/, '').replace(/podman/g, 'run-tool');
      expect(`${args.join(' ')} → ${a.status} ${norm(a.stderr)} ${a.stdout}`).toBe(`${args.join(' ')} → ${b.status} ${norm(b.stderr)} ${b.stdout}`);
    }
    expect(sk(['ps', '-a', '--filter', 'name=pi', '--format', '{{.Status}}']).stdout).toBe(pod(['ps', '-a', '--filter', 'name=pi', '--format', '{{.Status}}']).stdout);
  }, 120_000);

  it('version and system df: the same lines, keys and headers', () => {
    const labels = (s: string) => s.split('\n').map((l) => l.slice(0, 14));
    expect(labels(sk(['version']).stdout)).toEqual(labels(pod(['version']).stdout));
    expect(Object.keys((JSON.parse(sk(['version', '--format', 'json']).stdout) as { Client: object }).Client)).toEqual(Object.keys((JSON.parse(pod(['version', '--format', 'json']).stdout) as { Client: object }).Client));
    expect(sk(['version', 'x']).status).toBe(pod(['version', 'x']).status);
    const head = (f: typeof sk, args: string[]) => f(args).stdout.split('\n').filter((l) => /^[A-Z][A-Z ]+[A-Z]$|^[A-Z][A-Za-z ]+space usage:$|^(Images|Containers|Local Volumes) /.test(l)).map((l) => l.replace(/^(Images|Containers|Local Volumes) .*/, '$1'));
    expect(head(sk, ['system', 'df']), sk(['system', 'df']).stdout + pod(['system', 'df']).stdout).toEqual(head(pod, ['system', 'df']));
    expect(head(sk, ['system', 'df', '-v']), sk(['system', 'df', '-v']).stdout + pod(['system', 'df', '-v']).stdout).toEqual(head(pod, ['system', 'df', '-v']));
    expect(sk(['system', 'df', '--format', '{{.Type}} {{.Total}}']).stdout).toBe(pod(['system', 'df', '--format', '{{.Type}} {{.Total}}']).stdout);
  }, 60_000);
});
