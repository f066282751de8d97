// buildah's scripting verbs in build-tool (from, run, copy/add, config, commit, containers, rm, inspect,
// mount/umount, pull, info, version): a scripted pipeline whose image podman runs, side by side with buildah 1.28
// on a private --root/--runroot, and bad input that leaves the container and the store as they were.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';

const repo = resolve(import.meta.dirname, '../../..');
const BUILD_TOOL = join(repo, 'bin', 'build-tool.mjs');
const has = (p: string) => spawnSync('sh', ['-c', `command -v ${p}`], { stdio: 'ignore' }).status === 0;

describe.skipIf(!isRoot || !hasBusybox)('build-tool scripting verbs (buildah from/run/copy/config/commit…)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  let files: string;
  const bt = (args: string[], o: { input?: string } = {}): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [BUILD_TOOL, '--root', root, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, XDG_RUNTIME_DIR: dir }, ...(o.input !== undefined && { input: o.input }) });
  const ok = (r: SpawnSyncReturns<string>): string => {
    if (r.status !== 0) throw new Error(`build-tool failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const fails = (r: SpawnSyncReturns<string>, status: number, re: RegExp) => {
    expect(r.status, r.stderr).toBe(status);
    const errs = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
    expect(errs, r.stderr).toHaveLength(1);
    expect(errs[0]).toMatch(re);
  };
  const index = () => readFileSync(join(root, 'images', 'index.json'), 'utf8');
  const layerCount = (name: string): number => {
    const e = (JSON.parse(index()).manifests as { digest: string; annotations?: Record<string, string> }[]).find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name)!;
    return JSON.parse(readFileSync(join(root, 'images', 'blobs', 'sha256', e.digest.slice(7)), 'utf8')).layers.length;
  };
  const records = () => readdirSync(join(root, 'working-containers')).filter((n) => n.endsWith('.json')).sort();
  const recordText = () => records().map((n) => readFileSync(join(root, 'working-containers', n), 'utf8')).join('\n');

  beforeAll(async () => {
    ({ dir, cleanup } = await scratchDir('skiff-verbs-'));
    root = join(dir, 'store');
    await makeBusyboxImage(root, dir);
    files = join(dir, 'files');
    await mkdir(join(files, 'app', 'sub'), { recursive: true });
    await writeFile(join(files, 'app', 'main.sh'), '#!/bin/sh\necho "hello from $GREETING"\n', { mode: 0o755 });
    await writeFile(join(files, 'app', 'sub', 'data.txt'), 'data\n');
    await writeFile(join(files, 'note.txt'), 'note\n');
  });
  afterAll(async () => {
    spawnSync('sh', ['-c', `awk -v d="${dir}/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`]);
    await cleanup();
  });

  it('a scripted pipeline from … run … copy … config … commit makes an image run-tool and podman run', () => {
    const ctr = ok(bt(['from', 'localhost/busybox'])).trim();
    expect(ctr).toBe('busybox-working-container');
    expect(ok(bt(['from', 'localhost/busybox'])).trim()).toBe('busybox-working-container-1');
    ok(bt(['rm', 'busybox-working-container-1']));
    // RUN output keeps its streams; the container keeps what the command wrote
    const r = bt(['run', ctr, '--', 'sh', '-c', 'echo to-out; echo to-err >&2; mkdir -p /srv && echo ran > /srv/ran']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('to-out\n');
    expect(r.stderr).toContain('to-err\n');
    expect(ok(bt(['run', '-e', 'ONLY_NOW=yes', ctr, 'sh', '-c', 'cat /srv/ran; echo $ONLY_NOW']))).toBe('ran\nyes\n');
    // stdin reaches the command, as buildah's run
    expect(ok(bt(['run', ctr, '--', 'sh', '-c', 'cat > /srv/fed; wc -l < /srv/fed'], { input: 'a\nb\n' }))).toBe('2\n');
    // copy: a directory's contents, a file, --chown; the digest of what was added on stdout
    expect(ok(bt(['copy', '--chown', '1000:1000', ctr, join(files, 'app'), '/app']))).toMatch(/^[a-f0-9]{64}\n$/);
    ok(bt(['copy', ctr, join(files, 'note.txt'), '/etc/']));
    // add extracts a local archive (copy would not)
    spawnSync('tar', ['-C', join(files, 'app'), '-cf', join(dir, 'bundle.tar'), 'sub']);
    ok(bt(['add', '-q', ctr, join(dir, 'bundle.tar'), '/unpacked/']));
    expect(ok(bt(['run', ctr, '--', 'cat', '/unpacked/sub/data.txt']))).toBe('data\n');
    expect(ok(bt(['run', ctr, '--', 'sh', '-c', 'stat -c "%u:%g %n" /app/main.sh /app/sub/data.txt; cat /etc/note.txt']))).toBe('1000:1000 /app/main.sh\n1000:1000 /app/sub/data.txt\nnote\n');
    ok(bt(['config', '--env', 'GREETING=the pipeline', '--cmd', '/app/main.sh', '--label', 'stage=scripted', '--workingdir', '/app', '--port', '8080/tcp', '--author', 'ci', ctr]));
    // run --user/--workingdir hold for that command only
    expect(ok(bt(['run', '--user', '1000:1000', '--workingdir', '/tmp', ctr, '--', 'sh', '-c', 'id -u; pwd']))).toBe('1000\n/tmp\n');
    expect(ok(bt(['run', ctr, '--', 'sh', '-c', 'id -u; pwd']))).toBe('0\n/app\n');
    // run does not leak its --env, --user or --workingdir into the image; config's env is there
    const info = JSON.parse(ok(bt(['inspect', ctr])));
    expect(info.Type).toBe('buildah 0.0.1');
    expect(info.Container).toBe(ctr);
    expect(info.FromImage).toBe('localhost/busybox:latest');
    expect(info.OCIv1.config.Env).toContain('GREETING=the pipeline');
    expect(info.OCIv1.config.Env.join(' ')).not.toContain('ONLY_NOW');
    expect(info.OCIv1.config.Cmd).toEqual(['/app/main.sh']);
    expect(info.OCIv1.config.Labels).toEqual({ stage: 'scripted' });
    expect(info.OCIv1.config.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(info.OCIv1.config.WorkingDir).toBe('/app');
    expect(info.OCIv1.config.User).toBeUndefined();
    expect(info.OCIv1.author).toBe('ci');
    expect(ok(bt(['inspect', '--format', '{{.FromImage}} {{.Container}}', ctr]))).toBe(`localhost/busybox:latest ${ctr}\n`);

    const iid = join(dir, 'iid');
    const c = bt(['commit', '--iidfile', iid, ctr, 'piped']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/^[a-f0-9]{64}\n$/);
    expect(readFileSync(iid, 'utf8')).toBe(`sha256:${c.stdout.trim()}`);
    expect(c.stderr).toContain('Writing manifest to image destination');
    // buildah's shape: the base image's layers plus one layer for everything the container changed
    expect(layerCount('localhost/piped:latest')).toBe(layerCount('localhost/busybox:latest') + 1);
    const run = spawnSync(process.execPath, [join(repo, 'bin', 'run-tool.mjs'), '--root', root, 'run', '--rm', '--network', 'none', 'piped'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout, run.stderr).toBe('hello from the pipeline\n');
    if (has('podman')) {
      const [proot, prun] = [join(dir, 'podman', 'root'), join(dir, 'podman', 'run')];
      const P = ['--root', proot, '--runroot', prun, '--storage-driver', 'vfs'];
      const cp = spawnSync('skopeo', ['copy', '-q', `oci:${join(root, 'images')}:localhost/piped:latest`, `containers-storage:[vfs@${proot}+${prun}]localhost/piped:latest`], { encoding: 'utf8', timeout: 60_000 });
      expect(cp.status, cp.stderr).toBe(0);
      const pr = spawnSync('podman', [...P, 'run', '--rm', '--network', 'none', 'localhost/piped'], { encoding: 'utf8', timeout: 60_000 });
      expect(pr.stdout, pr.stderr).toBe('hello from the pipeline\n');
      spawnSync('podman', [...P, 'system', 'reset', '-f'], { stdio: 'ignore' });
    }
    // commit --rm removes the container; the image stays
    const ctr2 = ok(bt(['from', '--name', 'second', 'piped'])).trim();
    expect(ctr2).toBe('second');
    ok(bt(['commit', '-q', '--rm', '--format', 'docker', ctr2, 'piped-docker']));
    expect(bt(['containers', '-q']).stdout.trim().split('\n')).toHaveLength(1);
    const entry = (JSON.parse(index()).manifests as { mediaType: string; annotations?: Record<string, string> }[]).find((e) => e.annotations?.['org.opencontainers.image.ref.name'] === 'localhost/piped-docker:latest');
    expect(entry?.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    ok(bt(['rm', ctr]));
  });

  it('a failing run exits with its command status and leaves the container as it was; bad input changes nothing', () => {
    const ctr = ok(bt(['from', '--name', 'guarded', 'localhost/busybox'])).trim();
    ok(bt(['run', ctr, '--', 'sh', '-c', 'echo kept > /kept']));
    const before = { index: index(), records: recordText() };
    fails(bt(['run', ctr, '--', 'sh', '-c', 'echo half > /half; exit 3']), 3, /^Error: while running runtime: exit status 3$/);
    fails(bt(['run', ctr]), 125, /command must be specified/);
    fails(bt(['run', '--user', '1000', ctr, '--', 'sh', '-c', 'echo half > /tmp/half; exit 4']), 4, /^Error: while running runtime: exit status 4$/);
    fails(bt(['run', '--workingdir', 'relative', ctr, '--', 'true']), 125, /invalid --workingdir "relative"/);
    fails(bt(['run', 'nosuch', '--', 'true']), 125, /"nosuch": container not known/);
    fails(bt(['config', '--port', 'eighty', ctr]), 125, /invalid --port "eighty"/);
    fails(bt(['config', '--env', 'NOVALUE', ctr]), 125, /invalid --env "NOVALUE"/);
    fails(bt(['copy', ctr, join(files, 'missing.txt'), '/x']), 125, /.+/);
    fails(bt(['copy', '--chmod', 'rwx', ctr, join(files, 'note.txt')]), 125, /invalid --chmod "rwx"/);
    fails(bt(['commit', '--format', 'v1', ctr, 'never']), 125, /unrecognized image type "v1"/);
    fails(bt(['commit', ctr, 'Bad//Name']), 125, /.+/);
    fails(bt(['from', '--name', 'guarded', 'localhost/busybox']), 125, /the container name "guarded" is already in use/);
    fails(bt(['from', '--pull', 'never', 'localhost/nosuch']), 125, /image not known/);
    fails(bt(['rm', 'nosuch']), 125, /^Error: removing container "nosuch": container not known$/);
    expect({ index: index(), records: recordText() }).toEqual(before);
    expect(ok(bt(['run', ctr, '--', 'sh', '-c', 'cat /kept; test ! -e /half && test ! -e /tmp/half && echo no-half']))).toBe('kept\nno-half\n');
    ok(bt(['rm', ctr]));
  });

  it('two runs on one container at once: the second waits, neither change is lost', async () => {
    const ctr = ok(bt(['from', '--name', 'racy', 'localhost/busybox'])).trim();
    const runAsync = (line: string) =>
      new Promise<number>((res) => {
        const p = spawn(process.execPath, [BUILD_TOOL, '--root', root, 'run', ctr, '--', 'sh', '-c', `echo ${line} >> /log`], { stdio: 'ignore', env: { ...process.env, XDG_RUNTIME_DIR: dir } });
        p.on('exit', (code) => res(code ?? -1));
      });
    expect(await Promise.all([runAsync('one'), runAsync('two')])).toEqual([0, 0]);
    expect(ok(bt(['run', ctr, '--', 'sort', '/log']))).toBe('one\ntwo\n');
    ok(bt(['rm', ctr]));
  });

  it('from scratch … copy … config --arch/--variant/--env KEY- … commit --manifest: a list entry for another platform', () => {
    const ctr = ok(bt(['from', 'scratch'])).trim();
    expect(ctr).toBe('working-container');
    ok(bt(['copy', ctr, join(files, 'note.txt'), '/note.txt']));
    ok(bt(['config', '--arch', 'arm64', '--variant', 'v8', '--env', 'KEEP=1', '--env', 'DROP=1', ctr]));
    ok(bt(['config', '--env', 'DROP-', ctr]));
    const before = { index: index(), records: recordText() };
    fails(bt(['config', '--arch', 'arm 64', ctr]), 125, /invalid --arch "arm 64"/);
    expect({ index: index(), records: recordText() }).toEqual(before);
    const oci = JSON.parse(ok(bt(['inspect', ctr]))).OCIv1;
    expect([oci.architecture, oci.variant]).toEqual(['arm64', 'v8']);
    expect(oci.config.Env.filter((e: string) => !e.startsWith('PATH='))).toEqual(['KEEP=1']);
    ok(bt(['commit', '-q', '--rm', '--manifest', 'multiarch', ctr, 'notes-arm64']));
    const list = JSON.parse(ok(bt(['manifest', 'inspect', 'multiarch'])));
    expect(list.manifests.map((m: { platform: object }) => m.platform)).toEqual([{ architecture: 'arm64', os: 'linux', variant: 'v8' }]);
    expect(layerCount('localhost/notes-arm64:latest')).toBe(1);
  });

  it("prunes keep a working container's uncommitted image (build-tool prune, run-tool system prune)", () => {
    const ctr = ok(bt(['from', '--name', 'kept-by-prune', 'localhost/busybox'])).trim();
    ok(bt(['run', '--network', 'none', ctr, '--', 'sh', '-c', 'echo still-here > /x']));
    const p = bt(['prune']);
    expect(p.status, p.stderr).toBe(0);
    const sp = spawnSync(process.execPath, [join(repo, 'bin', 'run-tool.mjs'), '--root', root, 'system', 'prune', '-f'], { encoding: 'utf8', timeout: 60_000 });
    expect(sp.status, sp.stderr).toBe(0);
    expect(ok(bt(['run', '--network', 'none', ctr, '--', 'cat', '/x']))).toBe('still-here\n');
    ok(bt(['rm', ctr]));
  });

  it('mount/umount: files written through the mount are in the next step and the committed image', () => {
    const ctr = ok(bt(['from', '--name', 'mounted', 'localhost/busybox'])).trim();
    const mnt = ok(bt(['mount', ctr])).trim();
    expect(existsSync(join(mnt, 'bin', 'busybox'))).toBe(true);
    spawnSync('sh', ['-c', `echo through-mount > ${mnt}/tm && rm ${mnt}/bin/ls`]);
    expect(ok(bt(['mount']))).toBe(`mounted ${mnt}\n`);
    expect(ok(bt(['run', ctr, '--', 'sh', '-c', 'cat /tm; test -e /bin/ls || echo ls-gone']))).toBe('through-mount\nls-gone\n');
    expect(ok(bt(['mount']))).toBe(`mounted ${mnt}\n`); // still mounted after the step
    spawnSync('sh', ['-c', `echo second > ${mnt}/tm2`]);
    expect(ok(bt(['umount', ctr])).trim()).toMatch(/^[a-f0-9]{64}$/);
    expect(ok(bt(['mount']))).toBe('');
    ok(bt(['commit', '-q', '--rm', ctr, 'mounted-image']));
    const run = spawnSync(process.execPath, [join(repo, 'bin', 'run-tool.mjs'), '--root', root, 'run', '--rm', '--network', 'none', 'mounted-image', 'sh', '-c', 'cat /tm /tm2; test -e /bin/ls || echo ls-gone'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout, run.stderr).toBe('through-mount\nsecond\nls-gone\n');
  });

  it('containers, inspect --type image, pull, info, version', () => {
    const ctr = ok(bt(['from', 'localhost/busybox'])).trim();
    const table = ok(bt(['containers']));
    expect(table.split('\n')[0]).toBe('CONTAINER ID  BUILDER  IMAGE ID     IMAGE NAME                       CONTAINER NAME');
    expect(table.split('\n')[1]).toMatch(/^[a-f0-9]{12} {5}\* {5}[a-f0-9]{12} localhost\/busybox:latest {9}busybox-working-container$/);
    expect(ok(bt(['containers', '-n'])).split('\n').filter(Boolean)).toHaveLength(1);
    const j = JSON.parse(ok(bt(['containers', '--json'])));
    expect(Object.keys(j[0])).toEqual(['id', 'builder', 'imageid', 'imagename', 'containername']);
    expect(ok(bt(['containers', '--format', '{{.ContainerName}}']))).toBe(`${ctr}\n`);
    expect(JSON.parse(ok(bt(['inspect', '--type', 'image', 'localhost/busybox']))).FromImage).toBe('localhost/busybox:latest');
    fails(bt(['inspect', '--type', 'image', 'nosuch']), 125, /image not known/);
    // pull from another transport prints the image ID
    const oci = join(dir, 'oci-src');
    const skopeo = spawnSync('skopeo', ['copy', `oci:${join(root, 'images')}:localhost/busybox:latest`, `oci:${oci}:bb`], { encoding: 'utf8' });
    if (skopeo.status === 0) expect(ok(bt(['pull', '-q', `oci:${oci}:bb`]))).toMatch(/^[a-f0-9]{64}\n$/);
    fails(bt(['pull', '--policy', 'sometimes', 'localhost/busybox']), 125, /unsupported pull policy "sometimes"/);
    const info = JSON.parse(ok(bt(['info'])));
    expect(info.store.ContainerStore.number).toBe(1);
    expect(info.host.os).toBe('linux');
    expect(ok(bt(['info', '--format', '{{.store.GraphRoot}}']))).toBe(`${root}\n`);
    expect(ok(bt(['version']))).toMatch(/^Version: {9}\S+\n/);
    ok(bt(['rm', '--all']));
    expect(records()).toEqual([]);
  });

  it.skipIf(!has('buildah'))('side by side with buildah 1.28: names, table header, exit codes and messages', async () => {
    const [broot, brun] = [join(dir, 'buildah', 'root'), join(dir, 'buildah', 'run')];
    const B = ['--root', broot, '--runroot', brun, '--storage-driver', 'vfs'];
    const bh = (args: string[]) => spawnSync('buildah', [...B, ...args], { encoding: 'utf8', timeout: 120_000 });
    const cp = spawnSync('skopeo', ['copy', '-q', `oci:${join(root, 'images')}:localhost/busybox:latest`, `containers-storage:[vfs@${broot}+${brun}]localhost/busybox:latest`], { encoding: 'utf8' });
    expect(cp.status, cp.stderr).toBe(0);
    const cases: string[][] = [['from', 'localhost/busybox'], ['from', 'localhost/busybox'], ['run', '--network', 'none', 'busybox-working-container', '--', 'sh', '-c', 'echo out; exit 3'], ['rm', 'nosuch'], ['config', '--port', '80', 'busybox-working-container'], ['rm', 'busybox-working-container-1']];
    for (const args of cases) {
      const theirs = bh(args);
      const ours = bt(args);
      expect(ours.status, `${args.join(' ')}: ${ours.stderr}`).toBe(theirs.status);
      if (args[0] === 'from' || args[0] === 'run') expect(ours.stdout, args.join(' ')).toBe(theirs.stdout);
      if (args[0] === 'rm' && theirs.status === 0) expect(ours.stdout).toMatch(/^[a-f0-9]{64}\n$/);
      const errLine = (s: string) => s.split('\n').find((l) => l.startsWith('Error: ')) ?? '';
      if (theirs.status !== 0) expect(errLine(ours.stderr), args.join(' ')).toBe(errLine(theirs.stderr));
    }
    expect(bt(['containers']).stdout.split('\n')[0]).toBe(bh(['containers']).stdout.split('\n')[0]);
    bh(['rm', '--all']);
    spawnSync('sh', ['-c', `buildah ${B.join(' ')} rmi -af >/dev/null 2>&1`]);
    ok(bt(['rm', '--all']));
  });

  it('commit --squash: one layer holding the base and every step (a deleted file stays gone), one history entry; the container stays as it was', () => {
    const ctr = ok(bt(['from', '--name', 'sq', 'localhost/busybox'])).trim();
    ok(bt(['run', '--network', 'none', ctr, '--', 'sh', '-c', 'echo one > /one; echo gone > /gone']));
    ok(bt(['run', '--network', 'none', ctr, '--', 'sh', '-c', 'echo two > /two; rm /gone']));
    const c = bt(['commit', '-q', '--squash', ctr, 'squashed']);
    expect(c.status, c.stderr).toBe(0);
    expect(layerCount('localhost/squashed:latest')).toBe(1);
    const img = JSON.parse(ok(bt(['inspect', '--type', 'image', 'squashed'])));
    expect(img.OCIv1.history).toHaveLength(1);
    expect(img.OCIv1.history[0].comment).toBe('FROM localhost/busybox:latest');
    const out = spawnSync(process.execPath, [join(repo, 'bin', 'run-tool.mjs'), '--root', root, 'run', '--rm', '--network', 'none', 'squashed', 'sh', '-c', 'cat /one /two; ls /gone 2>&1; echo busybox: $(ls /bin | wc -l)'], { encoding: 'utf8', timeout: 60_000 });
    expect(out.stdout, out.stderr).toMatch(/^one\ntwo\nls: \/gone: No such file or directory\nbusybox: [1-9][0-9]*\n$/u);
    // without --squash the same container still commits buildah's shape: the base layers plus one
    ok(bt(['commit', '-q', ctr, 'unsquashed']));
    expect(layerCount('localhost/unsquashed:latest')).toBe(layerCount('localhost/busybox:latest') + 1);
    ok(bt(['rm', ctr]));
  });
});
