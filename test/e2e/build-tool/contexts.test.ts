// Build contexts, SSH and secrets (issue 18): `--build-context NAME=DIR|docker-image://|oci-layout://|URL` in FROM and
// COPY --from, a tarball URL and a git URL as the main context (served from 127.0.0.1 by node http and `git daemon`,
// both started and stopped by the tests), confinement of what they unpack, RUN --mount=type=ssh with a real
// ssh-agent, and secrets that stay out of layers, history and cache keys. Real runc throughout.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox, makeBusyboxImage } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { makeWorld, type World } from './harness.ts';
import { openStore } from '../../../shared/store/store.ts';
import { lookupImage } from '../../../shared/store/lookup.ts';
import { openStoreSource } from '../../../shared/transport/store.ts';
import { openOciLayoutTarget } from '../../../shared/transport/oci-layout.ts';
import { copyImage } from '../../../shared/transport/copy-image.ts';
import { parseReference } from '../../../shared/ref/reference.ts';
import { fetchRemoteContext } from '../../../shared/build/context/remote-context.ts';
import { parseBuildContextFlag } from '../../../shared/build/context/named-contexts.ts';
import type { Manifest } from '../../../shared/oci/types.ts';

const repo = resolve(import.meta.dirname, '../../..');
const BUILD_TOOL = join(repo, 'bin', 'build-tool.mjs');
const built = existsSync(join(repo, 'dist', 'build-tool.mjs'));

/** A tar (gzip) made of `entries`, names and link targets written exactly as given (adversarial ones too). */
async function tarball(entries: { name: string; body?: string; type?: 'file' | 'directory' | 'symlink'; linkname?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: type === 'directory' ? 0o755 : 0o644, ...(e.linkname !== undefined && { linkname: e.linkname }) };
    if (type === 'file') pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** Every file name and body of the uncompressed layers of image `name` in store `root`. */
async function layerTexts(root: string, name: string): Promise<string[]> {
  const store = await openStore(root);
  try {
    const found = await lookupImage(store.layout, name);
    const man = await store.blobs.readJson<Manifest>(found.descriptor);
    const out: string[] = [JSON.stringify(await store.blobs.readJson(man.config)), JSON.stringify(man)];
    for (const l of man.layers) {
      const ex = tar.extract();
      ex.on('entry', (h, stream, next) => {
        const parts: Buffer[] = [];
        stream.on('data', (c: unknown) => parts.push(c as Buffer));
        stream.on('end', () => {
          out.push(`${h.name} ${h.linkname ?? ''} ${Buffer.concat(parts).toString('latin1')}`);
          next();
        });
      });
      await pipeline(await store.blobs.open(l), createGunzip(), ex);
    }
    return out;
  } finally {
    await store.close();
  }
}

async function freePort(): Promise<number> {
  const s = netServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe.skipIf(!isRoot || !hasBusybox)('build: named contexts, remote contexts, ssh and secrets', () => {
  let w: World;
  let http: Server;
  let base = '';
  const served = new Map<string, Buffer>();
  beforeAll(async () => {
    w = await makeWorld();
    // a second local image, used through docker-image://
    await makeBusyboxImage(w.root, w.dir, 'localhost/alt:1');
    http = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (body === undefined) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    await w?.cleanup();
  });

  /**
   * build-tool's CLI with TMPDIR private to the test, so what a remote context leaves behind can be listed; run
   * asynchronously, since the test's own http server answers the downloads.
   */
  const cli = (args: string[], tmp: string, input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((res) => {
      const child = spawn(process.execPath, [BUILD_TOOL, '--root', w.root, 'build', ...args], { env: { ...process.env, XDG_RUNTIME_DIR: w.dir, TMPDIR: tmp }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin!.end(input ?? '');
      child.on('close', (status) => res({ status, stdout, stderr }));
    });

  it('a directory context: COPY --from=NAME with its own .dockerignore, content in the cache key, FROM NAME', async () => {
    const lib = join(w.dir, 'lib');
    await mkdir(join(lib, 'sub'), { recursive: true });
    await writeFile(join(lib, 'a.txt'), 'lib-a\n');
    await writeFile(join(lib, 'sub', 'b.txt'), 'lib-b\n');
    await writeFile(join(lib, 'skip.log'), 'ignored\n');
    await writeFile(join(lib, '.dockerignore'), '*.log\n');
    const contexts = new Map([parseBuildContextFlag(`lib=${lib}`)]);
    const df = 'FROM localhost/busybox\nCOPY --from=lib / /lib-copy/\nRUN cat /lib-copy/a.txt > /seen\n';
    const r1 = await w.build(df, { tags: ['nc1'], buildContexts: contexts });
    const img = await w.image('nc1');
    expect(await readFile(join(img.rootfs, 'lib-copy/sub/b.txt'), 'utf8')).toBe('lib-b\n');
    expect(await readFile(join(img.rootfs, 'seen'), 'utf8')).toBe('lib-a\n');
    await expect(lstat(join(img.rootfs, 'lib-copy/skip.log'))).rejects.toThrow();
    // unchanged: every step a hit; an ignored file changing is still a hit; a selected file changing is a miss
    const r2 = await w.build(df, { tags: ['nc1'], buildContexts: contexts });
    expect(r2.stats.runs + r2.stats.copies).toBe(0);
    expect(r2.id).toBe(r1.id);
    await writeFile(join(lib, 'skip.log'), 'changed but ignored\n');
    expect((await w.build(df, { tags: ['nc1'], buildContexts: contexts })).stats.copies).toBe(0);
    await writeFile(join(lib, 'a.txt'), 'lib-a2\n');
    const r3 = await w.build(df, { tags: ['nc1'], buildContexts: contexts });
    expect(r3.stats.copies).toBe(1);
    expect(r3.stats.runs).toBe(1);
    expect(await readFile(join((await w.image('nc1')).rootfs, 'seen'), 'utf8')).toBe('lib-a2\n');
    // FROM a directory context: the directory is the root filesystem
    await w.build('FROM lib\n', { tags: ['nc-from-dir'], buildContexts: contexts });
    const fromDir = await w.image('nc-from-dir');
    expect(await readFile(join(fromDir.rootfs, 'sub/b.txt'), 'utf8')).toBe('lib-b\n');
    expect(fromDir.manifest.layers).toHaveLength(1);
    await expect(lstat(join(fromDir.rootfs, 'skip.log'))).rejects.toThrow();
    // RUN --mount from=NAME binds the directory; its content is in the key
    const mdf = 'FROM localhost/busybox\nRUN --mount=from=lib,target=/m cat /m/a.txt > /mounted\n';
    await w.build(mdf, { tags: ['nc-mount'], buildContexts: contexts });
    expect(await readFile(join((await w.image('nc-mount')).rootfs, 'mounted'), 'utf8')).toBe('lib-a2\n');
    expect((await w.build(mdf, { tags: ['nc-mount'], buildContexts: contexts })).stats.runs).toBe(0);
    await writeFile(join(lib, 'a.txt'), 'lib-a3\n');
    expect((await w.build(mdf, { tags: ['nc-mount'], buildContexts: contexts })).stats.runs).toBe(1);
  });

  it('a named context overrides a stage and an image of that name; docker-image:// is used like a FROM base', async () => {
    await w.files({ 'marker-alt': 'x' });
    const df = 'FROM localhost/busybox AS base\nRUN echo from-stage > /which\nFROM base\nRUN test -e /which && cat /which > /out || echo overridden > /out\n';
    await w.build(df, { tags: ['ov0'] });
    expect(await readFile(join((await w.image('ov0')).rootfs, 'out'), 'utf8')).toBe('from-stage\n');
    await w.build(df, { tags: ['ov1'], buildContexts: new Map([parseBuildContextFlag('base=docker-image://localhost/alt:1')]) });
    expect(await readFile(join((await w.image('ov1')).rootfs, 'out'), 'utf8')).toBe('overridden\n');
    // COPY --from=NAME of an image context, and an image name that only exists as a context
    await w.build('FROM localhost/busybox\nCOPY --from=tools /bin/busybox /copied-busybox\nFROM nosuchimage\nCOPY --from=0 /copied-busybox /cb\n', {
      tags: ['ov2'],
      buildContexts: new Map([parseBuildContextFlag('tools=docker-image://localhost/alt:1'), parseBuildContextFlag('nosuchimage=docker-image://localhost/busybox')]),
    });
    expect((await lstat(join((await w.image('ov2')).rootfs, 'cb'))).size).toBeGreaterThan(100_000);
  });

  it('oci-layout://PATH@sha256:DIGEST and oci-layout://PATH:TAG', async () => {
    const layout = join(w.dir, 'layout');
    const src = await openStoreSource(w.root, { ref: parseReference('localhost/alt:1') });
    const dst = await openOciLayoutTarget(layout, 'v1');
    let digest: string;
    try {
      digest = (await copyImage(src, dst)).digest;
      await dst.commit?.();
    } finally {
      await dst.close();
      await src.close();
    }
    for (const spec of [`oci-layout://${layout}@${digest}`, `oci-layout://${layout}:v1`]) {
      const r = await w.build('FROM img\nRUN echo ok > /oci\n', { tags: ['oci1'], buildContexts: new Map([parseBuildContextFlag(`img=${spec}`)]) });
      expect(r.id, spec).toBeTruthy();
      expect(await readFile(join((await w.image('oci1')).rootfs, 'oci'), 'utf8')).toBe('ok\n');
    }
    const bad = `oci-layout://${layout}@sha256:${'0'.repeat(64)}`;
    await expect(w.build('FROM img\n', { buildContexts: new Map([parseBuildContextFlag(`img=${bad}`)]) })).rejects.toThrow(/build context img/);
  });

  it.skipIf(!built)('a tarball URL as the main context and as a named context; the temp dir is removed after success and failure', async () => {
    const tmp = join(w.dir, 'tmp-tarball');
    await mkdir(tmp);
    served.set('/ctx.tar.gz', await tarball([
      { name: 'Dockerfile', body: 'FROM localhost/busybox\nCOPY app/ /app/\nRUN cat /app/hello\n' },
      { name: 'app/', type: 'directory' },
      { name: 'app/hello', body: 'hello from a tarball\n' },
    ]));
    const r = await cli(['-t', 'tarctx', `${base}/ctx.tar.gz`], tmp);
    expect(r.stderr).toContain('hello from a tarball');
    expect(r.status, r.stderr).toBe(0);
    expect(await readdir(tmp)).toEqual([]);
    // a failing build removes it too
    served.set('/fail.tar.gz', await tarball([{ name: 'Dockerfile', body: 'FROM localhost/busybox\nRUN exit 7\n' }]));
    const f = await cli([`${base}/fail.tar.gz`], tmp);
    expect(f.status).toBe(7);
    expect(await readdir(tmp)).toEqual([]);
    // a tarball as a named context
    const n = await cli(['-t', 'tarnamed', '--build-context', `src=${base}/ctx.tar.gz`, '-f', '-', w.ctx], tmp, 'FROM localhost/busybox\nCOPY --from=src app/hello /h\n');
    expect(n.status, n.stderr).toBe(0);
    expect(await readFile(join((await w.image('tarnamed')).rootfs, 'h'), 'utf8')).toBe('hello from a tarball\n');
    expect(await readdir(tmp)).toEqual([]);
  });

  it.skipIf(!built)('Ctrl-C during a remote-context build removes the fetched context', async () => {
    const tmp = join(w.dir, 'tmp-int');
    await mkdir(tmp);
    served.set('/slow.tar.gz', await tarball([{ name: 'Dockerfile', body: 'FROM localhost/busybox\nRUN sleep 30\n' }]));
    const child = spawn(process.execPath, [BUILD_TOOL, '--root', w.root, 'build', `${base}/slow.tar.gz`], { env: { ...process.env, XDG_RUNTIME_DIR: w.dir, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const deadline = Date.now() + 30_000;
    while (!err.includes('RUN sleep 30') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await readdir(tmp)).some((n) => n.startsWith('skiff-context-'))).toBe(true);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).not.toBe(0);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('tarball context members that try to escape (.., absolute names, a symlink then a file through it) stay inside', async () => {
    const victim = join(w.dir, 'victim');
    await mkdir(victim, { recursive: true });
    served.set('/evil.tar.gz', await tarball([
      { name: 'Dockerfile', body: 'FROM localhost/busybox\n' },
      { name: '../../../../../../../../' + victim.slice(1) + '/dotdot', body: 'escaped' },
      { name: victim + '/absolute', body: 'escaped' },
      { name: 'out', type: 'symlink', linkname: victim },
      { name: 'out/through-link', body: 'escaped' },
    ]));
    const f = await fetchRemoteContext(`${base}/evil.tar.gz`);
    try {
      expect(await readdir(victim)).toEqual([]);
      // the link itself is kept as a link (COPY never follows it out of the context)
      expect(await readlink(join(f.dir, 'out'))).toBe(victim);
    } finally {
      await f.dispose();
    }
    expect(existsSync(f.dir)).toBe(false);
  });

  it('a tarball context larger than the limit fails with one clear line and leaves nothing', async () => {
    served.set('/big.tar.gz', Buffer.alloc(64 * 1024, 1));
    await expect(fetchRemoteContext(`${base}/big.tar.gz`, { maxBytes: 1024 })).rejects.toThrow(/build context .*big\.tar\.gz: the download is larger than the 1024-byte limit/);
  });

  describe('git contexts served by git daemon on 127.0.0.1', () => {
    let daemon: ChildProcess | undefined;
    let gitBase = '';
    beforeAll(async () => {
      const repos = join(w.dir, 'git');
      const work = join(repos, 'app.git');
      await mkdir(join(work, 'sub'), { recursive: true });
      await writeFile(join(work, 'Dockerfile'), 'FROM localhost/busybox\nCOPY . /src/\n');
      await writeFile(join(work, 'sub', 'Dockerfile'), 'FROM localhost/busybox\nCOPY . /sub/\n');
      await writeFile(join(work, 'sub', 'only-in-sub'), 'sub file\n');
      await symlink('/etc/passwd', join(work, 'passwd-link'));
      await symlink('/etc', join(work, 'etc-link'));
      await symlink('../../..', join(work, 'up-link'));
      const g = (...a: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: work, stdio: 'pipe' });
      g('init', '-q', '-b', 'main');
      g('add', '-A');
      g('commit', '-q', '-m', 'one');
      g('tag', 'v1');
      const port = await freePort();
      daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${repos}`, '--listen=127.0.0.1', `--port=${port}`, repos], { stdio: 'ignore' });
      gitBase = `git://127.0.0.1:${port}`;
      for (let i = 0; i < 100; i++) {
        if (spawnSync('git', ['ls-remote', `${gitBase}/app.git`]).status === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    afterAll(() => {
      if (daemon?.pid !== undefined) process.kill(daemon.pid, 'SIGTERM');
    });

    it.skipIf(!built)('git://…/app.git, #tag and #ref:subdir build; .git is not in the context; symlinks are copied as links', async () => {
      const tmp = join(w.dir, 'tmp-git');
      await mkdir(tmp);
      const r = await cli(['-t', 'gitctx', `${gitBase}/app.git`], tmp);
      expect(r.status, r.stderr).toBe(0);
      const img = await w.image('gitctx');
      expect(await readFile(join(img.rootfs, 'src/sub/only-in-sub'), 'utf8')).toBe('sub file\n');
      expect(await readlink(join(img.rootfs, 'src/passwd-link'))).toBe('/etc/passwd');
      await expect(lstat(join(img.rootfs, 'src/.git'))).rejects.toThrow();
      const s = await cli(['-t', 'gitsub', `${gitBase}/app.git#v1:sub`], tmp);
      expect(s.status, s.stderr).toBe(0);
      expect((await readdir(join((await w.image('gitsub')).rootfs, 'sub'))).sort()).toEqual(['Dockerfile', 'only-in-sub']);
      expect(await readdir(tmp)).toEqual([]);
    });

    it('a #ref:subdir with .., an absolute subdir, or a symlink leading out of the checkout is refused', async () => {
      await expect(fetchRemoteContext(`${gitBase}/app.git#main:../..`)).rejects.toThrow(/leads outside the repository/);
      await expect(fetchRemoteContext(`${gitBase}/app.git#main:/etc`)).rejects.toThrow(/leads outside the repository/);
      // a symlink to /etc resolves inside the checkout (there is no etc/ there), one to ../../.. stays at its root
      await expect(fetchRemoteContext(`${gitBase}/app.git#main:etc-link`)).rejects.toThrow(/is not a directory in the repository/);
      const up = await fetchRemoteContext(`${gitBase}/app.git#main:up-link`);
      try {
        expect(existsSync(join(up.dir, 'sub', 'only-in-sub'))).toBe(true);
      } finally {
        await up.dispose();
      }
      await expect(fetchRemoteContext(`${gitBase}/app.git#no-such-branch`)).rejects.toThrow(/git context .*fetch failed/);
    });
  });

  describe('ssh agent forwarding', () => {
    let agent: ChildProcess | undefined;
    let sock = '';
    let key = '';
    let pub = '';
    let sshCtx = '';
    beforeAll(async () => {
      const d = join(w.dir, 'ssh');
      await mkdir(d, { recursive: true });
      key = join(d, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'skiff-test-key', '-f', key]);
      pub = (await readFile(`${key}.pub`, 'utf8')).trim();
      sock = join(d, 'agent.sock');
      agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
      execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      // busybox has no ssh client: the host's ssh-add and the libraries it loads go into a context dir
      sshCtx = join(d, 'ctx');
      const bin = execFileSync('sh', ['-c', 'command -v ssh-add'], { encoding: 'utf8' }).trim();
      const libs = execFileSync('ldd', [bin], { encoding: 'utf8' }).split('\n').flatMap((l) => /(\/\S+) \(0x/u.exec(l)?.[1] ?? []);
      for (const f of [bin, ...libs]) {
        await mkdir(join(sshCtx, f, '..'), { recursive: true });
        execFileSync('cp', ['-L', f, join(sshCtx, f)]);
      }
    });
    afterAll(() => {
      if (agent?.pid !== undefined) process.kill(agent.pid, 'SIGTERM');
    });

    it('RUN --mount=type=ssh lists the agent key (agent socket and key file forms); the key is in no layer, history or key', async () => {
      const keyBody = (await readFile(key, 'utf8')).split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
      const df = 'FROM localhost/busybox\nCOPY --from=sshtools / /t/\nRUN --mount=type=ssh LD_LIBRARY_PATH=/t/lib/x86_64-linux-gnu:/t/usr/lib/x86_64-linux-gnu /t/lib64/ld-linux-x86-64.so.2 /t/usr/bin/ssh-add -L > /listed\n';
      for (const [form, ssh] of [['socket', new Map([['default', sock]])], ['key file', new Map([['default', key]])]] as const) {
        const tag = `ssh-${form.replace(' ', '-')}`;
        await w.build(df, { tags: [tag], noCache: true, ssh, buildContexts: new Map([parseBuildContextFlag(`sshtools=${sshCtx}`)]) });
        const img = await w.image(tag);
        expect((await readFile(join(img.rootfs, 'listed'), 'utf8')).trim(), form).toBe(pub);
        const texts = (await layerTexts(w.root, tag)).join('\n');
        for (const line of keyBody) expect(texts.includes(line), form).toBe(false);
        expect(JSON.stringify(img.config.history)).not.toContain(sock);
      }
      // nor any file of the store (cache entries, file-digest memo, configs)
      const found = spawnSync('grep', ['-rlF', keyBody[1]!, w.root], { encoding: 'utf8' });
      expect(found.stdout).toBe('');
    });

    it.skipIf(!built)('a build killed outright leaves its fetched context and key agent; the next one removes them and stops that agent by PID', async () => {
      const tmp = join(w.dir, 'tmp-kill');
      await mkdir(tmp);
      served.set('/kill.tar.gz', await tarball([{ name: 'Dockerfile', body: 'FROM localhost/busybox\nRUN --mount=type=ssh sleep 30\n' }]));
      const child = spawn(process.execPath, [BUILD_TOOL, '--root', w.root, 'build', '--ssh', `default=${key}`, `${base}/kill.tar.gz`], { env: { ...process.env, XDG_RUNTIME_DIR: w.dir, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      const deadline = Date.now() + 30_000;
      while (!err.includes('sleep 30') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const left = (await readdir(tmp)).sort();
      expect(left.map((n) => n.replace(/-[^-]+$/u, ''))).toEqual(['skiff-context', 'skiff-ssh']);
      const agentPid = Number((await readFile(join(tmp, left[1]!, '.helper'), 'utf8')).split(' ')[0]);
      expect(() => process.kill(agentPid, 0)).not.toThrow();
      served.set('/quick.tar.gz', await tarball([{ name: 'Dockerfile', body: 'FROM localhost/busybox\nRUN --mount=type=ssh true\n' }]));
      const r = await cli(['--ssh', `default=${key}`, `${base}/quick.tar.gz`], tmp);
      expect(r.status, r.stderr).toBe(0);
      expect(await readdir(tmp)).toEqual([]);
      expect(() => process.kill(agentPid, 0)).toThrow();
    });

    it('--ssh with a missing path, or an agent the Dockerfile requires but was not given, fails with one line', async () => {
      await expect(w.build('FROM localhost/busybox\nRUN --mount=type=ssh true\n', { ssh: new Map([['default', join(w.dir, 'nope')]]) })).rejects.toThrow(/--ssh default: .*nope does not exist/);
      await expect(w.build('FROM localhost/busybox\nRUN --mount=type=ssh,required=true true\n', {})).rejects.toThrow(/ssh agent default is required/);
      // uid/gid/mode are not applied to the bound agent socket: said, not silently dropped
      w.log.length = 0;
      await w.build('FROM localhost/busybox\nRUN --mount=type=ssh,uid=1000 test -S "$SSH_AUTH_SOCK"\n', { noCache: true, ssh: new Map([['default', sock]]) });
      expect(w.log.join('')).toMatch(/RUN --mount=type=ssh: uid, gid and mode are not applied/);
    });
  });

  it('secrets: two builds with different secret values are cache hits; the value is in no layer, history line or key', async () => {
    const sfile = join(w.dir, 'sec');
    const df = 'FROM localhost/busybox\nRUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len\nRUN --mount=type=secret,id=envtok,env=TOKEN sh -c \'test -n "$TOKEN" && echo set > /env-seen\'\n';
    await writeFile(sfile, 'FIRST-SECRET-VALUE');
    process.env.SKIFF_CTX_TOKEN = 'FIRST-ENV-SECRET';
    const secrets = new Map([['tok', { src: sfile }], ['envtok', { env: 'SKIFF_CTX_TOKEN' }]]);
    const r1 = await w.build(df, { tags: ['sec1'], secrets });
    expect(r1.stats.runs).toBe(2);
    await writeFile(sfile, 'SECOND-SECRET-VALUE-LONGER');
    process.env.SKIFF_CTX_TOKEN = 'SECOND-ENV-SECRET';
    const r2 = await w.build(df, { tags: ['sec1'], secrets });
    expect(r2.stats.runs).toBe(0);
    expect(r2.stats.cacheHits).toBe(2);
    expect(r2.id).toBe(r1.id);
    const img = await w.image('sec1');
    expect(await readFile(join(img.rootfs, 'env-seen'), 'utf8')).toBe('set\n');
    const texts = (await layerTexts(w.root, 'sec1')).join('\n');
    for (const v of ['SECRET-VALUE', 'ENV-SECRET']) expect(texts).not.toContain(v);
    const cacheFiles = execFileSync('sh', ['-c', `grep -rl -e SECRET-VALUE -e ENV-SECRET ${w.root} || true`], { encoding: 'utf8' });
    expect(cacheFiles).toBe('');
    delete process.env.SKIFF_CTX_TOKEN;
  });

  it.skipIf(!built)('bad --build-context values fail with one line before anything runs', async () => {
    for (const [v, re] of [
      ['noequals', /want NAME=VALUE/],
      ['x=', /the value is empty/],
      ['x=oci-layout:///l@sha256:abc', /is not a sha256 digest/],
      ['x=ftp://127.0.0.1/c.tar', /unsupported scheme/],
      [`x=${join(w.dir, 'no-such-dir')}`, /build context x: .* is not a directory/],
    ] as const) {
      const r = await cli(['--build-context', v, '-f', '-', w.ctx], w.dir, 'FROM localhost/busybox\nRUN echo never-ran\n');
      expect(r.status, v).toBe(125);
      expect(r.stderr, v).toMatch(re);
      expect(r.stderr, v).not.toContain('never-ran');
      expect(r.stderr.split('\n').filter((l) => l.startsWith('Error: ')), v).toHaveLength(1);
    }
  });
});
