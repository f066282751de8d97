import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { parseArchiveFlag, parseCopyLocation } from '../../../run-tool/commands/cp.ts';
import { buildCommitCpTool, ok, run } from './commit-cp-helpers.ts';

const hasRunc = existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc');

describe('parseCopyLocation', () => {
  it('splits CONTAINER:PATH and leaves host paths alone', () => {
    expect(parseCopyLocation('ctr:/etc/passwd')).toEqual({ container: 'ctr', path: '/etc/passwd' });
    expect(parseCopyLocation('ctr:')).toEqual({ container: 'ctr', path: '/' });
    expect(parseCopyLocation('/a:b')).toEqual({ path: '/a:b' });
    expect(parseCopyLocation('./x:y')).toEqual({ path: './x:y' });
    expect(parseCopyLocation('-')).toEqual({ path: '-' });
    expect(parseCopyLocation('plain')).toEqual({ path: 'plain' });
  });
});

describe('parseArchiveFlag', () => {
  it('takes podman bool forms and hands any other word back as a path', () => {
    expect(parseArchiveFlag(undefined)).toBe(true);
    expect(parseArchiveFlag('false')).toBe(false);
    expect(parseArchiveFlag('=false')).toBe(false);
    expect(parseArchiveFlag('=true')).toBe(true);
    expect(parseArchiveFlag('/host/file')).toBe('/host/file');
    expect(parseArchiveFlag('ctr:/x')).toBe('ctr:/x');
    expect(() => parseArchiveFlag('=maybe')).toThrow(/invalid argument/);
  });
});

describe.skipIf(!isRoot || !hasBusybox || !hasRunc)('run-tool cp', () => {
  let dir: string;
  let root: string;
  let bin: string;
  let host: string;
  const names: string[] = [];
  const rt = (args: string[], o: { input?: string } = {}) => ok(bin, root, args, o);
  const started = (name: string, script: string) => {
    names.push(name);
    rt(['run', '-d', '--name', name, '--network', 'none', 'localhost/busybox', 'sh', '-c', script]);
    for (let i = 0; i < 50 && run(bin, root, ['exec', name, 'test', '-e', '/ready']).status !== 0; i++) execFileSync('sleep', ['0.1']);
  };

  beforeAll(async () => {
    dir = (await scratchDir('skiff-cp-')).dir;
    root = join(dir, 'store');
    host = join(dir, 'host');
    await mkdir(join(host, 'tree', 'sub'), { recursive: true });
    await writeFile(join(host, 'hostfile'), 'hostdata\n');
    await writeFile(join(host, 'tree', 'a'), 'A\n');
    await writeFile(join(host, 'tree', 'sub', 'b'), 'B\n');
    bin = await buildCommitCpTool(dir);
    await makeBusyboxImage(root, dir);
  }, 120_000);

  afterAll(async () => {
    for (const n of names) run(bin, root, ['rm', '-f', n]);
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
    // a monitor's exit command may still reopen (and so recreate) the store just after: remove it again
    await new Promise((r) => setTimeout(r, 1000));
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  });

  it('copies files and directories into a running container with the destination rules', () => {
    started('cp-in', 'mkdir /dst; echo old > /dst/existing; touch /ready; sleep 120');
    rt(['cp', join(host, 'hostfile'), 'cp-in:/dst']); // into an existing dir
    rt(['cp', join(host, 'hostfile'), 'cp-in:/dst/existing']); // overwrite a file
    rt(['cp', join(host, 'hostfile'), 'cp-in:/dst/renamed']); // new name
    rt(['cp', join(host, 'tree'), 'cp-in:/dst']); // dir into dir
    rt(['cp', join(host, 'tree'), 'cp-in:/newtree']); // dir to a new name
    rt(['cp', `${join(host, 'tree')}/.`, 'cp-in:/dst']); // contents
    const out = rt(['exec', 'cp-in', 'sh', '-c', 'cd /; cat dst/hostfile dst/existing dst/renamed dst/tree/a dst/tree/sub/b newtree/sub/b dst/a dst/sub/b; stat -c "%u:%g" dst/hostfile']);
    expect(out).toBe('hostdata\nhostdata\nhostdata\nA\nB\nB\nA\nB\n0:0\n');
    // errors: missing parent, dir onto a file, trailing slash on a missing dir
    expect(run(bin, root, ['cp', join(host, 'hostfile'), 'cp-in:/nope/x']).status).toBe(125);
    expect(run(bin, root, ['cp', join(host, 'tree'), 'cp-in:/dst/existing']).status).toBe(125);
    expect(run(bin, root, ['cp', join(host, 'hostfile'), 'cp-in:/missing/']).status).toBe(125);
    expect(run(bin, root, ['cp', join(host, 'hostfile'), 'no-such-ctr:/x']).status).toBe(125);
    expect(run(bin, root, ['cp', join(host, 'hostfile'), join(host, 'other')]).status).toBe(125);
  });

  it('--archive (default, as podman) gives copies to the container user; -a=false keeps the source owners; -a before SRC is no value', async () => {
    names.push('cp-own');
    rt(['run', '-d', '--name', 'cp-own', '-u', '1000:1000', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'touch /tmp/ready; sleep 120']);
    for (let i = 0; i < 50 && run(bin, root, ['exec', 'cp-own', 'test', '-e', '/tmp/ready']).status !== 0; i++) execFileSync('sleep', ['0.1']);
    const f = join(host, 'owned');
    await writeFile(f, 'o\n');
    execFileSync('chown', ['1234:4321', f]);
    rt(['cp', f, 'cp-own:/tmp/default']);
    rt(['cp', '-a', f, 'cp-own:/tmp/archived']);
    rt(['cp', '--archive=true', f, 'cp-own:/tmp/archived-true']);
    rt(['cp', '-a=false', f, 'cp-own:/tmp/kept']);
    rt(['cp', '--archive=false', f, 'cp-own:/tmp/kept2']);
    expect(rt(['exec', 'cp-own', 'stat', '-c', '%u:%g', '/tmp/default', '/tmp/archived', '/tmp/archived-true', '/tmp/kept', '/tmp/kept2']))
      .toBe('1000:1000\n1000:1000\n1000:1000\n1234:4321\n1234:4321\n');
    expect(run(bin, root, ['cp', '--archive=maybe', f, 'cp-own:/tmp/x']).status).toBe(125);
    expect(run(bin, root, ['cp', '-a', f]).status).toBe(125);
  });

  it('copies out of a container, to a host path and as a tar stream on stdout; and a tar stream in from stdin', async () => {
    started('cp-out', 'mkdir -p /data/sub; echo one > /data/one; echo two > /data/sub/two; ln -s /etc/passwd /data/link; touch /ready; sleep 120');
    const dst = await mkdtemp(join(dir, 'out-'));
    rt(['cp', 'cp-out:/data', dst]);
    expect(readFileSync(join(dst, 'data', 'one'), 'utf8')).toBe('one\n');
    expect(readFileSync(join(dst, 'data', 'sub', 'two'), 'utf8')).toBe('two\n');
    // the link is copied as a link, never dereferenced to host or container bytes
    expect(execFileSync('readlink', [join(dst, 'data', 'link')], { encoding: 'utf8' })).toBe('/etc/passwd\n');
    rt(['cp', 'cp-out:/data/one', join(dst, 'file-copy')]);
    expect(readFileSync(join(dst, 'file-copy'), 'utf8')).toBe('one\n');
    const tarList = execFileSync('sh', ['-c', `"${process.execPath}" "${bin}" --root "${root}" cp cp-out:/data - | tar -t`], { encoding: 'utf8' });
    expect(tarList.split('\n').filter(Boolean).sort()).toEqual(['data/', 'data/link', 'data/one', 'data/sub/', 'data/sub/two']);
    const tarIn = execFileSync('tar', ['-C', host, '-c', 'tree']);
    const r = run(bin, root, ['cp', '-', 'cp-out:/data'], { input: tarIn });
    expect(r.status, r.stderr).toBe(0);
    expect(rt(['exec', 'cp-out', 'cat', '/data/tree/sub/b'])).toBe('B\n');
    expect(run(bin, root, ['cp', 'cp-out:/nonexistent', dst]).status).toBe(125);
  });

  it('works on a stopped container (overlay mounted for the copy, unmounted after)', () => {
    names.push('cp-stopped');
    rt(['create', '--name', 'cp-stopped', '--network', 'none', 'localhost/busybox', 'cat', '/copied']);
    rt(['cp', join(host, 'hostfile'), 'cp-stopped:/copied']);
    const id = JSON.parse(rt(['inspect', 'cp-stopped']))[0].Id as string;
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(id);
    expect(run(bin, root, ['start', '-a', 'cp-stopped']).stdout + rt(['logs', 'cp-stopped'])).toContain('hostdata');
    const out = execFileSync('sh', ['-c', `"${process.execPath}" "${bin}" --root "${root}" cp cp-stopped:/copied - | tar -xO`], { encoding: 'utf8' });
    expect(out).toBe('hostdata\n');
  });

  it('RU-08 cp into a container through a symlink lands in the container, never on the host (static and racing links)', async () => {
    // a host directory the container's links name by absolute path; it exists on the host and (as an ordinary
    // directory) inside the container's overlay, so a cp that followed the link on the host would write here
    const victim = await mkdtemp('/var/tmp/skiff-ru08-');
    try {
      started('cp-ru08', `mkdir -p ${victim}; ln -s /tmp /test; ln -s ${victim} /vlink; touch /ready; sleep 120`);
      rt(['cp', join(host, 'hostfile'), 'cp-ru08:/test']);
      expect(rt(['exec', 'cp-ru08', 'cat', '/tmp/hostfile'])).toBe('hostdata\n');
      expect(existsSync('/tmp/hostfile') && readFileSync('/tmp/hostfile', 'utf8') === 'hostdata\n').toBe(false);
      rt(['cp', join(host, 'hostfile'), 'cp-ru08:/vlink']);
      expect(rt(['exec', 'cp-ru08', 'cat', `${victim}/hostfile`])).toBe('hostdata\n');
      expect(readdirSync(victim)).toEqual([]);
      // race: the container swaps /race between a directory and a link to the victim while cp runs 20 times
      rt(['exec', '-d', 'cp-ru08', 'sh', '-c',
        `i=0; while [ $i -lt 20000 ]; do rm -rf /race; mkdir /race; rm -rf /race; ln -s ${victim} /race; i=$((i+1)); done`]);
      let copied = 0;
      for (let i = 0; i < 20; i++) {
        const r = run(bin, root, ['cp', join(host, 'tree'), 'cp-ru08:/race']);
        if (r.status === 0) copied++;
        expect(readdirSync(victim), `host victim written on round ${i}`).toEqual([]);
      }
      expect(copied).toBeGreaterThan(0);
      expect(statSync(victim).isDirectory()).toBe(true);
      expect(readdirSync(victim)).toEqual([]);
    } finally {
      await rm(victim, { recursive: true, force: true });
    }
  }, 120_000);
});
