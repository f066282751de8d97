import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { escapesRoot } from '../../../run-tool/ops/volume-archive.ts';
import { parseSecretFlag } from '../../../run-tool/containers/secrets.ts';
import { buildCommitCpTool, ok, run } from './commit-cp-helpers.ts';

const hasRunc = existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc');
const hasPodman = existsSync('/usr/bin/podman');

/** A tar holding `entries` (name, body), made with python's tarfile so `..` names survive as written. */
function tarWith(file: string, entries: [string, string][]): void {
  const script = `import tarfile,io,sys,json\nt=tarfile.open(sys.argv[1],'w')\nfor n,b in json.loads(sys.argv[2]):\n  d=b.encode(); i=tarfile.TarInfo(n); i.size=len(d); t.addfile(i,io.BytesIO(d))\nt.close()\n`;
  execFileSync('python3', ['-c', script, file, JSON.stringify(entries)]);
}

describe('escapesRoot and parseSecretFlag', () => {
  it('tells names that climb out of the archive root from those that stay in', () => {
    for (const n of ['../victim/dotdot', '/../victim/slash-dotdot', '..', 'a/../../b']) expect(escapesRoot(n), n).toBe(true);
    for (const n of ['ok', './a/b', '/abs/file', 'a/../b', 'a/..']) expect(escapesRoot(n), n).toBe(false);
  });

  it('parses --secret as podman 4.3 does', () => {
    expect(parseSecretFlag('s1')).toEqual({ name: 's1', type: 'mount', target: '/run/secrets/s1', uid: 0, gid: 0, mode: 0o444 });
    expect(parseSecretFlag('s1,target=rel,uid=5,gid=6,mode=0400')).toEqual({ name: 's1', type: 'mount', target: '/run/secrets/rel', uid: 5, gid: 6, mode: 0o400 });
    expect(parseSecretFlag('s1,type=env,target=MYS')).toMatchObject({ type: 'env', target: 'MYS' });
    expect(() => parseSecretFlag('s1,type=env,uid=3')).toThrow('UID, GID, Mode options cannot be set with secret type env: parsing secret');
    expect(() => parseSecretFlag('s1,bogus=1')).toThrow('option bogus=1 invalid: parsing secret');
    expect(() => parseSecretFlag('s1,type=bogus')).toThrow('type bogus is invalid: parsing secret');
    expect(() => parseSecretFlag('s1,target=../../etc/x')).toThrow(/invalid/);
    expect(() => parseSecretFlag('s1,mode=999')).toThrow(/invalid/);
  });
});

describe.skipIf(!isRoot || !hasBusybox || !hasRunc)('run-tool diff, export, history, mount, volume/network/container/image exists, secrets', () => {
  let dir: string;
  let root: string;
  let bin: string;
  const rt = (args: string[], o: { input?: string | Buffer } = {}) => ok(bin, root, args, o);
  const bad = (args: string[], o: { input?: string | Buffer } = {}) => {
    const r = run(bin, root, args, o);
    expect(r.status, `${args.join(' ')}: ${r.stdout}`).not.toBe(0);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    return r;
  };

  beforeAll(async () => {
    dir = (await scratchDir('skiff-fscmd-')).dir;
    root = join(dir, 'store');
    bin = await buildCommitCpTool(dir);
    await makeBusyboxImage(root, dir);
    // c1: adds, changes, deletes, a symlink to a host file, a fifo; then exits
    rt(['run', '--name', 'c1', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'echo hi > /etc/newf; rm /bin/ls; mkdir -p /tmp/d/e; echo x>/tmp/d/e/f; ln -s /etc/shadow /leak; ln -s ../../../../../../outside /rel; echo >> /etc/passwd; mkfifo /fifo']);
    rt(['run', '--name', 'c2', '--network', 'none', 'localhost/busybox', 'true']);
  }, 180_000);

  afterAll(async () => {
    for (const n of ['c1', 'c2', 'up', 'sec', 'sec-env']) run(bin, root, ['rm', '-f', n]);
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
    await new Promise((r) => setTimeout(r, 1000));
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  });

  it("diff lists a container's changes as podman does (A/C/D sorted, runtime files left out, --format json)", () => {
    expect(rt(['diff', 'c1'])).toBe(['C /bin', 'D /bin/ls', 'C /etc', 'A /etc/newf', 'C /etc/passwd', 'A /fifo', 'A /leak', 'A /rel', 'C /tmp', 'A /tmp/d', 'A /tmp/d/e', 'A /tmp/d/e/f', ''].join('\n'));
    expect(JSON.parse(rt(['diff', '--format', 'json', 'c1']))).toEqual({
      changed: ['/bin', '/etc', '/etc/passwd', '/tmp'],
      added: ['/etc/newf', '/fifo', '/leak', '/rel', '/tmp/d', '/tmp/d/e', '/tmp/d/e/f'],
      deleted: ['/bin/ls'],
    });
    expect(rt(['diff', 'c2'])).toBe('C /etc\n'); // the /etc/hosts placeholder's parent, as podman shows it
    expect(rt(['diff', 'localhost/busybox'])).toMatch(/^A \/bin\nA \/bin\/arch\n/); // an image: its top layer against its parents
    expect(rt(['diff', 'localhost/busybox'])).not.toMatch(/^A \/(dev|proc|sys)$/m);
    expect(bad(['diff', 'nosuch']).stderr).toBe('Error: nosuch not found: layer not known\n');
    expect(bad(['diff', '--format', 'yaml', 'c1']).status).toBe(125);
  });

  it('diff matches podman 4.3 for the same changes', () => {
    if (!hasPodman) return;
    const conf = join(dir, 'containers.conf');
    execFileSync('sh', ['-c', `printf '[containers]\\ndefault_ulimits = ["nofile=1024:1024","nproc=4096:4096"]\\n[engine]\\nruntime = "runc"\\ncgroup_manager = "cgroupfs"\\n[network]\\nnetwork_backend = "netavark"\\n' > ${conf}`]);
    const p = (args: string[]) => spawnSync('podman', ['--root', join(dir, 'proot'), '--runroot', join(dir, 'prun'), '--tmpdir', join(dir, 'ptmp'), ...args], { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF: conf }, timeout: 120_000 });
    expect(p(['import', '-q', join(dir, 'busybox-rootfs.tar'), 'localhost/busybox:latest']).status).toBe(0);
    const script = 'echo hi > /etc/newf; rm /bin/ls; mkdir -p /tmp/d/e; echo x>/tmp/d/e/f; ln -s /etc/shadow /leak; ln -s ../../../../../../outside /rel; echo >> /etc/passwd; mkfifo /fifo';
    expect(p(['run', '--name', 'pc1', '--network', 'none', 'localhost/busybox', 'sh', '-c', script]).status).toBe(0);
    try {
      expect(rt(['diff', 'c1'])).toBe(p(['diff', 'pc1']).stdout);
      expect(JSON.parse(rt(['diff', '--format', 'json', 'c1']))).toEqual(JSON.parse(p(['diff', '--format', 'json', 'pc1']).stdout));
      expect(rt(['diff', 'localhost/busybox'])).toBe(p(['diff', 'localhost/busybox']).stdout); // an image: its top layer
      const pn = p(['diff', 'nosuch']);
      const sn = run(bin, root, ['diff', 'nosuch']);
      expect([sn.status, sn.stderr]).toEqual([pn.status, pn.stderr.split('\n').filter((l) => l.startsWith('Error')).join('\n') + '\n']);
    } finally {
      p(['rm', '-f', 'pc1']);
      p(['rmi', '-af']);
    }
  }, 180_000);

  it('LA-20 export writes the whole file system as a tar: links as links (no host bytes), to stdout or -o (complete or absent)', () => {
    const list = execFileSync('sh', ['-c', `"${process.execPath}" "${bin}" --root "${root}" export c1 | tar -tv`], { encoding: 'utf8' });
    expect(list).toMatch(/ leak -> \/etc\/shadow\n/);
    expect(list).toMatch(/ rel -> \.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/outside\n/);
    expect(list).toMatch(/^p.* fifo$/m);
    expect(list).toMatch(/ etc\/newf\n/);
    expect(list).not.toMatch(/ bin\/ls /);
    const out = join(dir, 'c1.tar');
    rt(['export', '-o', out, 'c1']);
    const names = execFileSync('tar', ['-tf', out], { encoding: 'utf8' }).split('\n');
    expect(names).toContain('etc/newf');
    // the shadow file's bytes are nowhere in the archive
    const shadow = readFileSync('/etc/shadow');
    expect(readFileSync(out).includes(shadow.subarray(0, Math.min(32, shadow.length)))).toBe(false);
    // the stopped container's overlay was mounted only for the export
    const id = (JSON.parse(rt(['inspect', 'c1'])) as { Id: string }[])[0]!.Id;
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(id);
    // bad input: one line, 125, nothing written
    expect(bad(['export', '-o', join(dir, 'nodir', 'x.tar'), 'c1']).stderr).toBe(`Error: creating file "${join(dir, 'nodir', 'x.tar')}": no such file or directory\n`);
    expect(bad(['export', '-o', join(dir, 'none.tar'), 'nosuch']).status).toBe(125);
    expect(existsSync(join(dir, 'none.tar'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('diff and export of a running container that swaps a directory for a symlink to / never list host paths', () => {
    // /x flips between a directory (holding /x/in) and a symlink to /: followed from the host, the link would list
    // the host's root (where /work lives); the container has no /work
    expect(existsSync('/work')).toBe(true);
    rt(['run', '-d', '--name', 'up', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'mkdir -p /x; touch /x/in; while :; do mv /x /x.d; ln -s / /x; rm /x; mv /x.d /x; done']);
    try {
      for (let i = 0; i < 8; i++) {
        const d = run(bin, root, ['diff', 'up']);
        expect(d.status, d.stderr).toBe(0);
        expect(d.stdout).not.toMatch(/^A \/x(\.d)?\/work$/m);
      }
      for (let i = 0; i < 3; i++) {
        const list = execFileSync('sh', ['-c', `"${process.execPath}" "${bin}" --root "${root}" export up | tar -t`], { encoding: 'utf8' });
        expect(list).not.toMatch(/^x(\.d)?\/work/m);
        expect(list).toMatch(/^x(\.d)?\/?/m);
      }
      // the freeze for export was undone: the container still runs
      expect(rt(['inspect', '--format', '{{.State.Status}}', 'up'])).toBe('running\n');
    } finally {
      rt(['rm', '-f', '-t', '0', 'up']);
    }
  }, 120_000);

  it('history shows podman 4.3 columns, IDs, sizes, -q, --no-trunc, -H=false and JSON keys', () => {
    rt(['commit', '-q', 'c1', 'localhost/c1img']);
    const lines = rt(['history', 'localhost/c1img']).split('\n');
    expect(lines[0]).toMatch(/^ID {12}CREATED +CREATED BY +SIZE +COMMENT$/);
    expect(lines[1]).toMatch(/^[0-9a-f]{12} {2}.* ago +sh -c echo hi > \/etc\/newf; rm \/bin\/ls; mkd\.\.\. +\d+(\.\d+)? kB/);
    expect(lines[2]).toMatch(/^[0-9a-f]{12} .* 2\.14 MB +imported from tarball$/);
    const ids = rt(['history', '-q', 'localhost/c1img']).trim().split('\n');
    const busyboxId = (JSON.parse(rt(['inspect', 'localhost/busybox'])) as { Id: string }[])[0]!.Id;
    expect(ids).toEqual([expect.stringMatching(/^[0-9a-f]{12}$/), busyboxId.slice(0, 12)]);
    expect(rt(['history', '--no-trunc', 'localhost/c1img'])).toContain('mkfifo /fifo');
    expect(rt(['history', '-H=false', 'localhost/c1img'])).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    const doc = JSON.parse(rt(['history', '--format', 'json', 'localhost/c1img'])) as Record<string, unknown>[];
    expect(Object.keys(doc[1]!)).toEqual(['id', 'created', 'CreatedBy', 'size', 'comment', 'Created']);
    expect(doc[1]).toMatchObject({ id: busyboxId, size: expect.any(Number), comment: 'imported from tarball' });
    expect(rt(['history', '--format', '{{.ID}}|{{.Comment}}|{{.Tags}}', 'localhost/busybox'])).toBe(`${busyboxId.slice(0, 12)}|imported from tarball|[]\n`);
    expect(bad(['history', 'nosuch']).status).toBe(125);
  });

  it('mount prints the merged root, counts mounts so unmount is balanced, and a stop leaves a user mount in place', () => {
    const id = (JSON.parse(rt(['inspect', 'c2'])) as { Id: string }[])[0]!.Id;
    const mounted = () => readFileSync('/proc/self/mountinfo', 'utf8').includes(`${id}/rootfs`);
    const path = rt(['mount', 'c2']).trim();
    expect(path).toBe(join(root, 'containers', id, 'rootfs'));
    expect(statSync(join(path, 'bin', 'busybox')).isFile()).toBe(true);
    rt(['mount', 'c2']);
    expect(rt(['mount'])).toBe(`${id.slice(0, 12)}  ${path}\n`);
    expect(JSON.parse(rt(['mount', '--format', 'json']))).toEqual([{ id, Names: ['c2'], mountpoint: path }]);
    expect(rt(['unmount', 'c2'])).toBe('c2\n');
    expect(mounted()).toBe(true); // one mount still held
    rt(['start', '-a', 'c2']); // runs and exits: its cleanup must not take the user's mount away
    expect(mounted()).toBe(true);
    expect(rt(['umount', 'c2'])).toBe('c2\n');
    expect(mounted()).toBe(false);
    expect(rt(['unmount', 'c2'])).toBe('c2\n'); // more unmounts than mounts: fine, as podman
    expect(bad(['mount', 'nosuch']).stderr).toBe('Error: no container with name or ID "nosuch" found: no such container\n');
    expect(bad(['unmount']).status).toBe(125);
    // force: every mount released at once
    rt(['mount', 'c2']);
    rt(['mount', 'c2']);
    rt(['unmount', '-f', 'c2']);
    expect(mounted()).toBe(false);
    // --all, as podman: mount -a prints each path, unmount -a each full ID
    const all = (JSON.parse(rt(['ps', '-a', '--format', 'json'])) as { Id: string }[]).map((c) => c.Id);
    expect(rt(['mount', '-a']).trim().split('\n').sort()).toEqual(all.map((i) => join(root, 'containers', i, 'rootfs')).sort());
    expect(rt(['unmount', '-a']).trim().split('\n').sort()).toEqual([...all].sort());
    expect(rt(['mount'])).toBe('');
  });

  it('container exists and image exists: 0 when there, 1 when not, nothing printed', () => {
    expect(run(bin, root, ['container', 'exists', 'c1'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(run(bin, root, ['container', 'exists', 'nosuch'])).toMatchObject({ status: 1, stdout: '', stderr: '' });
    expect(run(bin, root, ['container', 'exists', '../../x'])).toMatchObject({ status: 1, stdout: '' });
    expect(run(bin, root, ['image', 'exists', 'localhost/busybox'])).toMatchObject({ status: 0, stdout: '' });
    expect(run(bin, root, ['image', 'exists', 'busybox'])).toMatchObject({ status: 0 });
    expect(run(bin, root, ['image', 'exists', 'nosuch'])).toMatchObject({ status: 1, stdout: '' });
  });

  it('network exists and network prune: unused networks go, default and used ones stay', () => {
    rt(['network', 'create', 'n-unused']);
    rt(['network', 'create', 'n-used']);
    rt(['network', 'create', '--label', 'keep=1', 'n-labelled']);
    rt(['create', '--name', 'up', '--network', 'n-used', 'localhost/busybox', 'true']);
    expect(run(bin, root, ['network', 'exists', 'n-unused'])).toMatchObject({ status: 0, stdout: '' });
    expect(run(bin, root, ['network', 'exists', 'podman']).status).toBe(0);
    expect(run(bin, root, ['network', 'exists', 'nosuch'])).toMatchObject({ status: 1, stdout: '' });
    expect(rt(['network', 'prune', '-f', '--filter', 'label!=keep=1'])).toBe('n-unused\n');
    expect(rt(['network', 'prune', '-f'])).toBe('n-labelled\n');
    expect(rt(['network', 'ls', '--format', '{{.Name}}']).split('\n').filter(Boolean).sort()).toEqual(['n-used', 'podman']);
    expect(bad(['network', 'prune', '-f', '--filter', 'bogus=1']).status).toBe(125);
    rt(['rm', 'up']);
    expect(rt(['network', 'prune', '-f'])).toBe('n-used\n');
  });

  it('LA-01 volume import refuses an archive whose entries climb out, before writing anything; export/import round-trip', async () => {
    rt(['volume', 'create', 'v1']);
    expect(run(bin, root, ['volume', 'exists', 'v1'])).toMatchObject({ status: 0, stdout: '' });
    expect(run(bin, root, ['volume', 'exists', 'nosuch']).status).toBe(1);
    expect(run(bin, root, ['volume', 'exists', 'bad/name']).status).toBe(1);
    const mountpoint = rt(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'v1']).trim();
    const victim = join(dir, 'victim');
    await mkdir(victim, { recursive: true });
    const evil = join(dir, 'evil.tar');
    tarWith(evil, [['ok', 'fine'], ['../victim/dotdot', 'bad'], ['/../victim/slash-dotdot', 'bad']]);
    expect(bad(['volume', 'import', 'v1', evil]).stderr).toMatch(/^Error: refusing to import into volume v1: archive entry "\.\.\/victim\/dotdot" points outside the volume/);
    expect(readdirSync(mountpoint)).toEqual([]); // nothing half-written, not even the good entry
    expect(readdirSync(victim)).toEqual([]);
    expect(readdirSync(join(mountpoint, '..')).sort()).toEqual(['_data', 'volume.json']); // no temp left
    const good = join(dir, 'good.tar');
    tarWith(good, [['a', 'A\n'], ['sub/b', 'B\n']]);
    rt(['volume', 'import', 'v1', good]);
    rt(['volume', 'import', 'v1', '-'], { input: execFileSync('tar', ['-C', dir, '-c', 'victim']) });
    expect(readFileSync(join(mountpoint, 'sub', 'b'), 'utf8')).toBe('B\n');
    expect(statSync(join(mountpoint, 'victim')).isDirectory()).toBe(true);
    const listed = execFileSync('sh', ['-c', `"${process.execPath}" "${bin}" --root "${root}" volume export v1 | tar -t`], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(listed).toEqual(['a', 'sub/', 'sub/b', 'victim/']);
    rt(['volume', 'export', '-o', join(dir, 'v1.tar'), 'v1']);
    expect(execFileSync('tar', ['-xOf', join(dir, 'v1.tar'), 'a'], { encoding: 'utf8' })).toBe('A\n');
    expect(bad(['volume', 'export', 'nosuch']).stderr).toBe('Error: no such volume nosuch\n');
    expect(bad(['volume', 'import', 'nosuch', good]).stderr).toBe('Error: no such volume nosuch\n');
    expect(bad(['volume', 'import', 'v1', join(dir, 'missing.tar')]).stderr).toBe(`Error: open ${join(dir, 'missing.tar')}: no such file or directory\n`);
    expect(bad(['volume', 'import', 'v1', '-'], { input: 'not a tar at all\n' }).status).toBe(125);
  });

  it('secrets: stored 0600, listed and inspected without their data, mounted and given as env on run', async () => {
    const src = join(dir, 'secret-src');
    await writeFile(src, 's3cret-value');
    const id = rt(['secret', 'create', 's1', src]).trim();
    expect(id).toMatch(/^[0-9a-f]{25}$/);
    rt(['secret', 'create', 's2', '-'], { input: 'x' });
    // never world-readable: the store's secret files are 0600 in 0700 directories
    for (const f of [join(root, 'secrets'), join(root, 'secrets', 'data')]) expect(statSync(f).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(join(root, 'secrets', 'data'))) expect(statSync(join(root, 'secrets', 'data', f)).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, 'secrets', 'secrets.json')).mode & 0o777).toBe(0o600);
    const ls = rt(['secret', 'ls']).split('\n');
    expect(ls[0]).toMatch(/^ID {25}NAME +DRIVER +CREATED +UPDATED$/);
    expect(rt(['secret', 'ls', '-q', '--filter', 'name=s1'])).toBe(`${id}\n`);
    const inspected = rt(['secret', 'inspect', 's1']);
    expect(inspected).not.toContain('s3cret');
    expect(JSON.parse(inspected)[0]).toMatchObject({ ID: id, Spec: { Name: 's1', Driver: { Name: 'file' }, Labels: {} } });
    expect(rt(['secret', 'inspect', '--format', '{{.ID}} {{.Spec.Name}}', 's1'])).toBe(`${id} s1\n`);
    expect(rt(['secret', 'ls', '--format', 'json'])).not.toContain('s3cret');
    // bad input: one line, 125, nothing stored
    expect(bad(['secret', 'create', 's1', src]).stderr).toBe('Error: s1: secret name in use\n');
    expect(bad(['secret', 'create', 'bad/name', src]).stderr).toMatch(/invalid secret name\n$/);
    expect(bad(['secret', 'create', 'empty', '-'], { input: '' }).status).toBe(125);
    expect(bad(['secret', 'create', 'big', '-'], { input: Buffer.alloc(600_000, 1) }).status).toBe(125);
    const r = run(bin, root, ['secret', 'inspect', 'nosuch']);
    expect([r.status, r.stdout, r.stderr]).toEqual([125, '[]\n', 'Error: inspecting secret: no secret with name or id "nosuch": no such secret\n']);
    expect(rt(['secret', 'ls', '-q']).trim().split('\n')).toHaveLength(2);
    // run --secret: a read-only file (default /run/secrets/NAME, 0444 root) or a target with owner and mode; env
    expect(rt(['run', '--rm', '--network', 'none', '--secret', 's1', 'localhost/busybox', 'sh', '-c', 'stat -c "%a %u:%g" /run/secrets/s1; cat /run/secrets/s1; echo; echo x > /run/secrets/s1 || echo ro'])).toBe('444 0:0\ns3cret-value\nro\n');
    expect(rt(['run', '--rm', '--network', 'none', '--secret', 's1,target=/etc/foo,uid=5,gid=6,mode=0400', 'localhost/busybox', 'sh', '-c', 'stat -c "%a %u:%g" /etc/foo'])).toBe('400 5:6\n');
    rt(['create', '--name', 'sec-env', '--network', 'none', '--secret', 's1,type=env,target=MYS', 'localhost/busybox', 'sh', '-c', 'echo $MYS']);
    expect(rt(['start', '-a', 'sec-env'])).toBe('s3cret-value\n');
    expect(rt(['inspect', 'sec-env'])).not.toContain('s3cret');
    expect(JSON.parse(rt(['inspect', '--format', '{{json .Config.Secrets}}', 'sec-env']))).toEqual([{ Name: 's1', ID: id, UID: 0, GID: 0, Mode: 292 }]);
    const ctrId = (JSON.parse(rt(['inspect', 'sec-env'])) as { Id: string }[])[0]!.Id;
    expect(readFileSync(join(root, 'containers', ctrId, 'record.json'), 'utf8')).not.toContain('s3cret');
    rt(['commit', '-q', 'sec-env', 'localhost/sec-img']);
    expect(rt(['inspect', 'localhost/sec-img'])).not.toContain('s3cret'); // env secrets are not baked into a commit
    const before = rt(['ps', '-a', '-q']);
    expect(bad(['run', '--rm', '--network', 'none', '--secret', 'nosuch', 'localhost/busybox', 'true']).stderr).toBe('Error: no secret with name or id "nosuch": no such secret\n');
    expect(bad(['run', '--rm', '--network', 'none', '--secret', 's1,bogus=1', 'localhost/busybox', 'true']).stderr).toBe('Error: option bogus=1 invalid: parsing secret\n');
    expect(rt(['ps', '-a', '-q'])).toBe(before); // no half-made container
    // rm: prints the ID; an unknown one is 125
    expect(rt(['secret', 'rm', 's2']).trim()).toMatch(/^[0-9a-f]{25}$/);
    expect(bad(['secret', 'rm', 'nosuch']).status).toBe(125);
    expect(rt(['secret', 'rm', '--all'])).toBe(`${id}\n`);
    expect(readdirSync(join(root, 'secrets', 'data'))).toEqual([]);
  }, 120_000);
});
