import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot, scratchDir } from '../../helpers/tmp.ts';
import { applyChanges } from '../../../shared/image/changes.ts';
import { buildCommitCpTool, ok, run } from './commit-cp-helpers.ts';

const hasRunc = existsSync('/usr/sbin/runc') || existsSync('/usr/bin/runc');
const hasSkopeo = existsSync('/usr/bin/skopeo');

describe('applyChanges (--change parser shared by import and commit)', () => {
  it('applies every instruction podman accepts and merges ENV/LABEL/EXPOSE/VOLUME', () => {
    const cfg = applyChanges({ Env: ['A=1', 'B=2'], Labels: { x: '1' }, WorkingDir: '/srv' }, [
      'ENV B=3 C="with space"',
      'ENV D legacy value',
      'LABEL y=2 "z w"=3',
      'EXPOSE 80 53/udp',
      'VOLUME ["/data"]',
      'VOLUME /cache',
      'WORKDIR app',
      'USER 1000:1000',
      'STOPSIGNAL SIGINT',
      'CMD ["echo","hi"]',
      'ENTRYPOINT=/bin/sh -c x',
    ]);
    expect(cfg.Env).toEqual(['A=1', 'B=3', 'C=with space', 'D=legacy value']);
    expect(cfg.Labels).toEqual({ x: '1', y: '2', 'z w': '3' });
    expect(Object.keys(cfg.ExposedPorts ?? {})).toEqual(['80/tcp', '53/udp']);
    expect(Object.keys(cfg.Volumes ?? {})).toEqual(['/data', '/cache']);
    expect(cfg.WorkingDir).toBe('/srv/app');
    expect(cfg.User).toBe('1000:1000');
    expect(cfg.StopSignal).toBe('SIGINT');
    expect(cfg.Cmd).toEqual(['echo', 'hi']);
    expect(cfg.Entrypoint).toEqual(['/bin/sh', '-c', '/bin/sh -c x']);
  });
  it('rejects unknown instructions and malformed values', () => {
    expect(() => applyChanges({}, ['RUN echo'])).toThrow(/not supported/);
    expect(() => applyChanges({}, ['EXPOSE 99999'])).toThrow(/EXPOSE/);
    expect(() => applyChanges({}, ['VOLUME relative'])).toThrow(/absolute/);
    expect(() => applyChanges({}, ['nonsense'])).toThrow(/INSTRUCTION/);
  });
});

describe.skipIf(!isRoot || !hasBusybox || !hasRunc)('run-tool commit', () => {
  let dir: string;
  let root: string;
  let bin: string;
  const cleanup: string[] = [];
  const rt = (args: string[], o: { input?: string } = {}) => ok(bin, root, args, o);

  beforeAll(async () => {
    dir = (await scratchDir('skiff-commit-')).dir;
    root = join(dir, 'store');
    bin = await buildCommitCpTool(dir);
    await makeBusyboxImage(root, dir);
  }, 120_000);

  afterAll(async () => {
    for (const c of cleanup) run(bin, root, ['rm', '-f', c]);
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
    // a monitor's exit command may still reopen (and so recreate) the store just after: remove it again
    await new Promise((r) => setTimeout(r, 1000));
    await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  });

  it('commits writes, deletions (whiteouts), replacements and opaque directories; the new image runs with them', () => {
    cleanup.push('c-writes');
    rt(['run', '--name', 'c-writes', '--network', 'none', '-e', 'RUNENV=yes', 'localhost/busybox', 'sh', '-c',
      'echo new > /newfile && rm /bin/ls && echo replaced > /etc/passwd && mkdir -p /d/e && echo x > /d/e/f && rm -rf /etc/opq && mkdir /etc/opq 2>/dev/null; rm -rf /usr/share && mkdir -p /usr/share && echo only > /usr/share/only']);
    const id = rt(['commit', '-q', '-m', 'my message', '-a', 'Jane <j@example.com>', '-c', 'ENV FOO=bar', '-c', 'LABEL k=v', 'c-writes', 'committed']).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const out = rt(['run', '--rm', '--network', 'none', 'committed', 'sh', '-c',
      'cat /newfile; test -e /bin/ls && echo ls-present || echo ls-gone; cat /etc/passwd; cat /d/e/f; ls /usr/share; echo $FOO $RUNENV; test -x /bin/sh && echo sh-ok']);
    expect(out).toBe('new\nls-gone\nreplaced\nx\nonly\nbar yes\nsh-ok\n');
    // the ID printed is the config digest the store tags
    expect(rt(['images', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])).toContain(`${id.slice(0, 12)} localhost/committed:latest`);
  });

  it.skipIf(!hasSkopeo)('skopeo reads the committed image: history, author, config changes, OCI and docker formats', () => {
    cleanup.push('c-meta');
    rt(['run', '--name', 'c-meta', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'echo hi > /hi']);
    rt(['commit', '-q', '-m', 'the comment', '-a', 'Ann', '-c', 'CMD ["cat","/hi"]', '-c', 'EXPOSE 8080', '-c', 'WORKDIR /w', 'c-meta', 'meta:oci']);
    rt(['commit', '-q', '-f', 'docker', 'c-meta', 'meta:docker']);
    const layout = `oci:${join(root, 'images')}:localhost/meta:oci`;
    const cfg = JSON.parse(execFileSync('skopeo', ['inspect', '--config', layout], { encoding: 'utf8' }));
    expect(cfg.author).toBe('Ann');
    expect(cfg.config.Cmd).toEqual(['cat', '/hi']);
    expect(cfg.config.WorkingDir).toBe('/w');
    expect(Object.keys(cfg.config.ExposedPorts)).toEqual(['8080/tcp']);
    expect(cfg.config.Env.some((e: string) => e.startsWith('HOSTNAME=') || e.startsWith('container='))).toBe(false);
    const last = cfg.history[cfg.history.length - 1];
    expect(last).toMatchObject({ comment: 'the comment', author: 'Ann', created_by: 'sh -c echo hi > /hi' });
    expect(cfg.rootfs.diff_ids).toHaveLength(2);
    const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', layout], { encoding: 'utf8' }));
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    // skopeo 1.9's oci: transport lists only OCI manifests in index.json: read the Docker one from the blobs
    const index = JSON.parse(readFileSync(join(root, 'images', 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[] };
    const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'localhost/meta:docker')!;
    expect(entry.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const rawD = JSON.parse(readFileSync(join(root, 'images', 'blobs', 'sha256', entry.digest.slice(7)), 'utf8'));
    expect(rawD.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(rawD.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe(true);
    expect(rt(['run', '--rm', '--network', 'none', 'meta:oci'])).toBe('hi\n');
    expect(rt(['run', '--rm', '--network', 'none', 'meta:docker', 'cat', '/hi'])).toBe('hi\n');
  });

  it('LA-20 diff generation does not dereference: symlinks stay symlinks, sockets skipped, FIFOs kept, mount placeholders dropped', async () => {
    cleanup.push('c-la20');
    rt(['run', '--name', 'c-la20', '--network', 'none', 'localhost/busybox', 'sh', '-c',
      'ln -s /etc/hostname /leak && ln -s ../../../outside /rel && mkfifo /fifo && rm /etc/group']);
    // a socket in the container's upper dir (as a process inside would leave one)
    const cid = JSON.parse(rt(['inspect', 'c-la20']))[0].Id as string;
    const upper = join(root, 'containers', cid, 'upper');
    // bind where the path is short (sun_path is 108 bytes), then move the socket inode into the upper dir
    const short = await mkdtemp('/dev/shm/s-');
    const srv = createServer();
    await new Promise<void>((r, j) => srv.once('error', j).listen(join(short, 'sock'), r));
    await rename(join(short, 'sock'), join(upper, 'sock'));
    const r = run(bin, root, ['commit', '-q', 'c-la20', 'la20']);
    srv.close();
    await rm(short, { recursive: true, force: true });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/socket/);
    const out = rt(['run', '--rm', '--network', 'none', 'la20', 'sh', '-c',
      'readlink /leak; readlink /rel; test -p /fifo && echo fifo; test -e /sock && echo sock || echo nosock; test -e /etc/group && echo group || echo nogroup; cat /leak']);
    const lines = out.split('\n');
    expect(lines.slice(0, 5)).toEqual(['/etc/hostname', '../../../outside', 'fifo', 'nosock', 'nogroup']);
    // /leak resolves inside the new container (its own hostname), never to host bytes
    expect(lines[5]).not.toBe(readFileSync('/etc/hostname', 'utf8').trim());
    // the layer does not carry the empty bind-mount placeholders runc made (/etc/hosts, /etc/resolv.conf, …)
    const cfg = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${join(root, 'images')}:localhost/la20:latest`], { encoding: 'utf8' }));
    const top = (cfg.Layers as string[]).at(-1)!.slice(7);
    const names = execFileSync('tar', ['-tzf', join(root, 'images', 'blobs', 'sha256', top)], { encoding: 'utf8' }).split('\n');
    expect(names).toContain('leak');
    expect(names).toContain('etc/.wh.group');
    expect(names).not.toContain('etc/hosts');
    expect(names).not.toContain('run/.containerenv');
    expect(names).not.toContain('sock');
  });

  it('commits a running container (live upper dir) with and without --pause, and the container keeps running', () => {
    cleanup.push('c-live');
    rt(['run', '-d', '--name', 'c-live', '--network', 'none', 'localhost/busybox', 'sh', '-c', 'echo live > /live; sleep 60']);
    for (let i = 0; i < 50 && run(bin, root, ['exec', 'c-live', 'cat', '/live']).stdout !== 'live\n'; i++) execFileSync('sleep', ['0.1']);
    rt(['commit', '-q', '--pause', 'c-live', 'live:paused']);
    rt(['commit', '-q', 'c-live', 'live:unpaused']);
    expect(rt(['ps', '--format', '{{.Names}} {{.Status}}', '--filter', 'name=c-live'])).toMatch(/^c-live Up/);
    expect(rt(['exec', 'c-live', 'echo', 'still'])).toBe('still\n');
    expect(rt(['run', '--rm', '--network', 'none', 'live:paused', 'cat', '/live'])).toBe('live\n');
    expect(rt(['run', '--rm', '--network', 'none', 'live:unpaused', 'cat', '/live'])).toBe('live\n');
    rt(['rm', '-f', 'c-live']);
  });

  it('a commit without an image name is dangling; errors exit 125', () => {
    cleanup.push('c-dangling');
    rt(['create', '--name', 'c-dangling', '--network', 'none', 'localhost/busybox', 'true']);
    const id = rt(['commit', '-q', 'c-dangling']).trim();
    expect(rt(['images', '-a', '--format', '{{.ID}} {{.Repository}}'])).toContain(`${id.slice(0, 12)} <none>`);
    expect(run(bin, root, ['commit', 'no-such-container', 'x']).status).toBe(125);
    expect(run(bin, root, ['commit', '-c', 'RUN x', 'c-dangling', 'x']).status).toBe(125);
    expect(run(bin, root, ['commit', '-f', 'weird', 'c-dangling', 'x']).status).toBe(125);
  });
});
