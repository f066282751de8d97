// Differential: the same --format strings through podman 4.3 and run-tool (ps, images, inspect) on the same
// busybox image and a container created alike on both sides; stdout, stderr and exit codes compared, error
// cases included. podman runs with its own scratch --root/--runroot, so the machine's store is never touched.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { buildCommitCpTool, ok, run } from './commit-cp-helpers.ts';

const hasPodman = existsSync('/usr/bin/podman');

/** podman's CNI warnings on this machine are noise: keep stderr's own lines. */
const cleanErr = (s: string): string => s.split('\n').filter((l) => l !== '' && !l.includes('level=warning') && !l.includes('level=error')).join('\n');

/** Relative times drift between the two runs. */
const normTime = (s: string): string => s.replace(/\d+ (seconds|minutes?|hours?) ago|About a minute ago|Less than a second ago/g, '<ago>');

describe.skipIf(!isRoot || !hasPodman || !hasBusybox)('differential: --format through run-tool and podman 4.3', () => {
  let dir: string;
  let root: string;
  let bin: string;
  let podmanArgs: string[];
  const IMG = 'localhost/busybox:latest';
  const pod = (args: string[]) => spawnSync('podman', [...podmanArgs, ...args], { encoding: 'utf8', timeout: 60_000 });
  const sk = (args: string[]) => run(bin, root, args);
  const compare = (args: string[]) => {
    const a = sk(args);
    const b = pod(args);
    return {
      skiff: { status: a.status, stdout: normTime(a.stdout), stderr: cleanErr(a.stderr) },
      podman: { status: b.status, stdout: normTime(b.stdout), stderr: cleanErr(b.stderr) },
    };
  };

  beforeAll(async () => {
    dir = (await scratchDir('skiff-gotmpl-')).dir;
    root = join(dir, 'store');
    podmanArgs = ['--root', join(dir, 'podman-root'), '--runroot', join(dir, 'podman-run'), '--tmpdir', join(dir, 'podman-tmp'), '--storage-driver', 'overlay'];
    bin = await buildCommitCpTool(dir);
    await makeBusyboxImage(root, dir);
    ok(bin, root, ['save', '-o', join(dir, 'busybox.tar'), 'localhost/busybox']);
    const l = pod(['load', '-i', join(dir, 'busybox.tar')]);
    if (l.status !== 0) throw new Error(`podman load failed: ${l.stderr}`);
    const create = ['create', '--name', 'c1', '--label', 'a=b', '--label', 'org.x=y', IMG, 'sleep', '100'];
    ok(bin, root, create);
    const c = pod(create);
    if (c.status !== 0) throw new Error(`podman create failed: ${c.stderr}`);
    const vol = ['volume', 'create', '--label', 'k=v', 'v1'];
    ok(bin, root, vol);
    if (pod(vol).status !== 0) throw new Error('podman volume create failed');
  }, 180_000);

  afterAll(async () => {
    if (!dir) return;
    sk(['rm', '-af']);
    pod(['rm', '-af', '-t', '0']);
    pod(['rmi', '-af']);
    pod(['volume', 'rm', '-af']);
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  });

  const psFormats = [
    '{{.Names}}',
    '{{.Names}} {{.Image}}',
    '{{.Names}}\\t{{.Image}}\\n',
    '{{.Labels.a}}|{{.Labels.nope}}|{{index .Labels "org.x"}}|{{.Labels}}',
    '{{json .Labels}}',
    '{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}',
    '{{upper .Names}} {{printf "%-5s|%5.3s|%q|%x|%d" .Names .Image .Names .Names (len .Names)}}',
    '{{if eq .Names "c1" "c2"}}yes{{else}}no{{end}} {{if and .Labels (not .Ports)}}labels{{end}} {{if or (lt 1 2) .Nope}}short{{end}}',
    '{{with .Labels.a}}{{.}}{{else}}none{{end}} {{with .Labels.nope}}{{.}}{{else}}none{{end}}',
    '{{- .Names -}}  {{/* comment */}} {{- .Status}}',
    '{{define "n"}}<{{.}}>{{end}}{{template "n" .Names}}{{block "b" .Image}}[{{.}}]{{end}}',
    '{{$n := .Names}}{{$n = printf "%s!" $n}}{{$n}} {{print 1 2 "a"}} {{println .Names}}',
    '{{slice .Image 0 9}} {{index .Names 0}} {{html "<a&b>"}} {{js "a\'b"}} {{urlquery "a b"}}',
    '{{truncate .Image 5}}|{{pad .Names 2 1}}|{{title "hello world"}}|{{split .Image "/"}}|{{join (split .Image "/") "+"}}|{{lower "AB"}}',
    '{{printf "%5.1f|%e|%g|%+d|%05d|%o|%b|%X|%c|%U|%t|%v" 3.14159 1234.5 0.00001 3 42 8 5 255 65 65 true 1.5}}',
    '{{printf "%d" .Names}} {{printf "%s"}} {{printf "%s" 1 2}}',
    '{{printf "%.1f %.1f %.2f %.0f %.0f|%#.0e|%#.0f|%x|%08.3e|%v %v %v" 0.25 0.35 1.005 0.5 2.5 5.5 2.5 3.5 1234.5678 1e20 1e21 0.000012345}}',
    '{{upper "straße"}} {{lower "ÀB"}} {{title "foo-bar x_y"}} {{len "héllo"}} {{slice "héllo" 1 3}} {{printf "%q|%x|%U|%c" "tab\there" "hé" 9731 9731}}',
    '{{range 0}}x{{end}}',
    'table {{.Names}}\\t{{.Image}}',
    'table {{.Names}} {{.Status}} {{.Labels}}',
    'table {{.Names}}  {{.Image}}x{{.Names}}',
    // errors: strict fields, parse errors, bad calls
    '{{.Status}} {{.CreatedHuman}} {{.RunningFor}}',
    '{{.Nope}}',
    '{{.Names',
    '{{nope .Names}}',
    '{{end}}',
    '{{if}}{{end}}',
    '{{len 3}}',
    '{{else}}',
    'a\n\nb{{end}}x',
    '{{eq .Names 1}}',
    '{{upper 3}}',
    '{{join .Labels ","}}',
    '{{template "x"}}',
    '{{$x}}',
    '{{$x = 1}}',
    '{{ / }} {{.Names}}',
    '{{.Names-}}',
    '{{.Names)}}',
    '{{08}} {{1e}}',
    '{{1.5.5}}',
    '{{if 1}}{{else with 2}}{{end}}',
    '{{(.Names).X}}',
    '{{len nil}}',
  ];

  it.each(psFormats)('ps -a --format %s', (f) => {
    const r = compare(['ps', '-a', '--format', f]);
    expect(r.skiff).toEqual(r.podman);
  });

  it('ps --noheading drops the table header', () => {
    const r = compare(['ps', '-a', '--noheading', '--format', 'table {{.Names}} {{.Image}}']);
    expect(r.skiff).toEqual(r.podman);
  });

  it.each([
    '{{.ID}}',
    '{{.Repository}}:{{.Tag}}',
    '{{printf "%.5s" .ID}} {{truncate .ID 4}}',
    'table {{.Repository}} {{.Tag}} {{.ID}}',
    'table {{.Repository}}\\t{{.Tag}}',
    '{{.Nope}}',
    '{{.ID',
  ])('images --format %s', (f) => {
    const r = compare(['images', '--format', f]);
    expect(r.skiff).toEqual(r.podman);
  });

  it.each(['{{.Id}} {{.Config.Labels.nope}} {{.Architecture}}', '{{.Nope}}', '{{.ID'])('inspect (image) --format %s', (f) => {
    const r = compare(['inspect', '--type', 'image', '--format', f, IMG]);
    expect(r.skiff).toEqual(r.podman);
  });

  it.each(['{{.Name}} {{.Config.Labels.a}} {{.Config.Labels.nope}} {{.Config.Cmd}}', '{{.Nope}}'])('inspect (container) --format %s', (f) => {
    const r = compare(['inspect', '--type', 'container', '--format', f, 'c1']);
    expect(r.skiff).toEqual(r.podman);
  });

  it('an error after some output: podman has printed the first part, run-tool prints nothing (no half-written output)', () => {
    const r = compare(['ps', '-a', '--format', '{{.Names}} {{len 3}}']);
    expect(r.podman.stdout).toBe('c1 ');
    expect(r.skiff).toEqual({ ...r.podman, stdout: '' });
  });

  it.each([
    ['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}} {{.Labels.k}} {{.Labels.nope}}'],
    ['volume', 'ls', '--format', 'table {{.Name}} {{.Driver}}'],
    ['volume', 'ls', '--format', '{{.Nope}}'],
    ['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{index .Labels "k"}}', 'v1'],
    ['volume', 'inspect', '--format', '{{.Nope}}', 'v1'],
  ])('%s %s %s %s', (...args) => {
    const r = compare(args);
    expect(r.skiff).toEqual(r.podman);
  });

  it('ps .Created and .CreatedAt are Go time values on both sides', () => {
    const shape = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\n$/;
    const r = compare(['ps', '-a', '--format', '{{.Created}}|{{.CreatedAt}}']);
    expect(r.podman.stdout).toMatch(shape);
    expect(r.skiff.stdout).toMatch(shape);
  });

  it('a missing field exits 125 with Go\'s message on both', () => {
    const r = compare(['ps', '-a', '--format', '{{.Nope}}']);
    expect(r.skiff.status).toBe(125);
    expect(r.skiff.stderr).toBe('Error: template: ps:1:13: executing "ps" at <.Nope>: can\'t evaluate field Nope in type containers.psReporter');
    expect(r.skiff.stdout).toBe('');
  });
});
