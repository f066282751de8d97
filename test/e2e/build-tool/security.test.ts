import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBusybox } from '../../helpers/busybox.ts';
import { isRoot } from '../../helpers/tmp.ts';
import { openStore } from '../../../shared/store/store.ts';
import { makeWorld, type World } from './harness.ts';

function grepTree(dir: string, needle: string): boolean {
  try {
    execFileSync('grep', ['-rqF', needle, dir]);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!isRoot || !hasBusybox)('build security cases', () => {
  let w: World;
  let victim: string;
  beforeAll(async () => {
    w = await makeWorld();
    victim = join(w.dir, 'victim');
    await mkdir(victim, { recursive: true });
    await writeFile(join(victim, 'secret.txt'), 'HOST-SECRET-BYTES\n');
  });
  afterAll(async () => w?.cleanup());

  it('BU-01 context symlinks pointing outside are copied as links, never followed', async () => {
    await mkdir(join(w.ctx, 'b01'), { recursive: true });
    await symlink(join(victim, 'secret.txt'), join(w.ctx, 'b01/leak'));
    await symlink('../../victim', join(w.ctx, 'b01/rel'));
    await w.build('FROM localhost/busybox\nCOPY b01 /app\n', { tags: ['bu01'] });
    const img = await w.image('bu01');
    expect(await readlink(join(img.rootfs, 'app/leak'))).toBe(join(victim, 'secret.txt'));
    expect(await readlink(join(img.rootfs, 'app/rel'))).toBe('../../victim');
    expect(grepTree(img.rootfs, 'HOST-SECRET-BYTES')).toBe(false);
    await expect(w.build('FROM localhost/busybox\nCOPY b01/leak /x\n')).rejects.toThrow(/not found|does not exist/);
  });

  it('BU-02 an in-context symlink is followed for an explicit source', async () => {
    await w.files({ 'b02/sub/foo': 'through-link\n' });
    await symlink('sub', join(w.ctx, 'b02/link'));
    await w.build('FROM localhost/busybox\nCOPY b02/link/foo /got\n', { tags: ['bu02'] });
    expect(await readFile(join((await w.image('bu02')).rootfs, 'got'), 'utf8')).toBe('through-link\n');
  });

  it('BU-05 WORKDIR under /proc is refused', async () => {
    for (const wd of ['/proc/self/fd/7', '/proc/self/cwd', '/proc/1/root']) {
      await expect(w.build(`FROM localhost/busybox\nWORKDIR ${wd}\nRUN ls ../../../etc/passwd\n`)).rejects.toThrow(/\/proc/);
    }
  });

  it('BU-06 cache mount ids and sources never escape the cache dir', async () => {
    const up = '../'.repeat(12);
    const df = `FROM localhost/busybox
RUN --mount=type=cache,id=${up}${victim.slice(1)},target=/c ls -a /c > /ids
RUN --mount=type=cache,id=x,source=${up}${victim.slice(1)},target=/c ls -a /c > /srcs
`;
    await w.build(df, { tags: ['bu06'] });
    const img = await w.image('bu06');
    expect(await readFile(join(img.rootfs, 'ids'), 'utf8')).not.toContain('secret.txt');
    expect(await readFile(join(img.rootfs, 'srcs'), 'utf8')).not.toContain('secret.txt');
    expect((await readdir(victim)).sort()).toEqual(['secret.txt']);
  });

  it('BU-07 a cache subpath swapped for a symlink fails the build', async () => {
    await w.build('FROM localhost/busybox\nRUN --mount=type=cache,id=k7,target=/c mkdir -p /c/sel\n');
    const sel = join(w.root, 'cache/mounts/k7/sel');
    execFileSync('rm', ['-rf', sel]);
    await symlink(victim, sel);
    await expect(w.build('FROM localhost/busybox\nRUN --mount=type=cache,id=k7,source=sel,target=/c,rw touch /c/pwned\n', { noCache: true })).rejects.toThrow(/symbolic link|not a directory/);
    expect((await readdir(victim)).sort()).toEqual(['secret.txt']);
  });

  it('BU-08 a bind mount from a stage through a symlink stays inside the stage (writes discarded)', async () => {
    // a link to a host path: resolved in the stage root, where it does not exist
    const esc = `FROM localhost/busybox AS a
RUN ln -s ${victim} /link
FROM localhost/busybox
RUN --mount=type=bind,from=a,source=link,target=/x,rw touch /x/BIND_BREAKOUT
`;
    await expect(w.build(esc)).rejects.toThrow(/does not exist/);
    expect((await readdir(victim)).sort()).toEqual(['secret.txt']);
    // a link inside the stage: followed inside it; rw writes land in a throwaway overlay
    const df = `FROM localhost/busybox AS a
RUN mkdir -p /vv && ln -s /vv /link
FROM a AS b
RUN --mount=type=bind,from=a,source=link,target=/x,rw touch /x/BIND_BREAKOUT && ls /x > /seen
`;
    await w.build(df, { tags: ['bu08'] });
    const img = await w.image('bu08');
    expect(await readFile(join(img.rootfs, 'seen'), 'utf8')).toBe('BIND_BREAKOUT\n');
    expect(await readdir(join(img.rootfs, 'vv'))).toEqual([]);
    await expect(lstat(join(img.rootfs, 'x/BIND_BREAKOUT'))).rejects.toThrow();
  });

  it('mount-stub cleanup after a RUN that swapped the stub\'s parent for a symlink never touches host files', async () => {
    // RUN --mount=…,target=/a/b/c mv /a /a.old && ln -s HOST /a: the stubs the runtime made (/a, /a/b, /a/b/c) now
    // sit under /a.old, and /a leads out of the root. Cleanup re-resolves each stub inside the upper dir without
    // following links and removes only the empty stub of the right type: the host's empty b/c survives and the
    // build succeeds with the tree the RUN left.
    await mkdir(join(w.ctx, 'stubsrc'), { recursive: true });
    const sfile = join(w.dir, 'stub-secret');
    await writeFile(sfile, 'x');
    const cases: [string, string, 'dir' | 'file'][] = [
      ['tmpfs', 'type=tmpfs', 'dir'],
      ['bind', 'type=bind,source=stubsrc', 'dir'],
      ['cache', 'type=cache,id=stubcache', 'dir'],
      ['secret', 'type=secret,id=s', 'file'],
    ];
    for (const [name, spec, kind] of cases) {
      const host = join(w.dir, `stub-victim-${name}`);
      await mkdir(join(host, 'b'), { recursive: true });
      if (kind === 'dir') await mkdir(join(host, 'b/c'));
      else await writeFile(join(host, 'b/c'), '');
      const df = `FROM localhost/busybox\nRUN --mount=${spec},target=/a/b/c mv /a /a.old && ln -s ${host} /a\n`;
      await w.build(df, { tags: [`stub-${name}`], noCache: true, secrets: new Map([['s', { src: sfile }]]) });
      expect((await lstat(join(host, 'b/c'))).isDirectory(), name).toBe(kind === 'dir');
      const img = await w.image(`stub-${name}`);
      expect(await readlink(join(img.rootfs, 'a')), name).toBe(host);
      expect((await lstat(join(img.rootfs, 'a.old/b'))).isDirectory(), name).toBe(true);
      // an untouched stub (and the parents it needed) is still kept out of the layer
      await w.build(`FROM localhost/busybox\nRUN --mount=${spec},target=/q/r/s touch /kept\n`, { tags: [`stub-ok-${name}`], noCache: true, secrets: new Map([['s', { src: sfile }]]) });
      const ok = await w.image(`stub-ok-${name}`);
      await expect(lstat(join(ok.rootfs, 'q')), name).rejects.toThrow(/ENOENT/);
      expect((await lstat(join(ok.rootfs, 'kept'))).isFile()).toBe(true);
    }
  });

  it('BU-10 invalid mount options are rejected', async () => {
    for (const m of ['type=bind,target=/x,bind-propagation=suid', 'type=bind,target=x', 'type=bind,target=/proc/x', 'type=tmpfs,target=/sys/y', 'type=secret,id=s,rw=true', 'type=cache,target=/c,bogus=1']) {
      await expect(w.build(`FROM localhost/busybox\nRUN --mount=${m} true\n`)).rejects.toThrow(/invalid mount option/);
    }
  });

  it('BU-11 entitlements are needed for RUN --network=host and --security=insecure', async () => {
    await expect(w.build('FROM localhost/busybox\nRUN --network=host true\n')).rejects.toThrow(/network\.host/);
    await expect(w.build('FROM localhost/busybox\nRUN --security=insecure true\n')).rejects.toThrow(/security\.insecure/);
    await expect(w.build('FROM localhost/busybox\nRUN --device=/dev/kvm true\n')).rejects.toThrow(/device/);
    const r = await w.build('FROM localhost/busybox\nRUN --network=host true\n', { allow: ['network.host'] });
    expect(r.id).toMatch(/^sha256:/);
  });

  it('BU-12 RUN has an empty inheritable set and no-new-privileges', async () => {
    await w.build("FROM localhost/busybox\nRUN grep -E '^(CapInh|NoNewPrivs)' /proc/self/status > /caps\n", { tags: ['bu12'] });
    const caps = await readFile(join((await w.image('bu12')).rootfs, 'caps'), 'utf8');
    expect(caps).toMatch(/CapInh:\s+0000000000000000/);
    expect(caps).toMatch(/NoNewPrivs:\s+1/);
  });

  it('BU-13 secrets never reach a layer, history or config', async () => {
    const sfile = join(w.dir, 'token');
    await writeFile(sfile, 'TOPSECRET-VALUE');
    process.env.SKIFF_TEST_TOKEN = 'ENVSECRET-VALUE';
    const df = `FROM localhost/busybox
RUN --mount=type=secret,id=t md5sum < /run/secrets/t > /used
RUN --mount=type=secret,id=e,env=TOK echo -n "$TOK" | md5sum > /used2
`;
    const r = await w.build(df, { tags: ['bu13'], secrets: new Map([['t', { src: sfile }], ['e', { env: 'SKIFF_TEST_TOKEN' }]]) });
    const img = await w.image('bu13');
    const md5 = (x: string) => createHash('md5').update(x).digest('hex');
    expect(await readFile(join(img.rootfs, 'used'), 'utf8')).toContain(md5('TOPSECRET-VALUE'));
    expect(await readFile(join(img.rootfs, 'used2'), 'utf8')).toContain(md5('ENVSECRET-VALUE'));
    await expect(lstat(join(img.rootfs, 'run/secrets'))).rejects.toThrow();
    expect(grepTree(img.rootfs, 'SECRET-VALUE')).toBe(false);
    expect(JSON.stringify(img.config)).not.toContain('SECRET-VALUE');
    // no blob in the store holds it (layers are gzip: check uncompressed exports above; configs and manifests here)
    const store = await openStore(w.root);
    try {
      for (const d of await store.blobs.list()) {
        const b = await store.blobs.readBytes({ digest: d }, { cap: 1 << 30 });
        expect(b.includes('SECRET-VALUE')).toBe(false);
      }
    } finally {
      await store.close();
    }
    expect(r.id).toBeTruthy();
  });

  it('BU-15 ADD of a malicious archive stays confined; an absolute symlink in the stage works', async () => {
    // evil.tar: ../../escape, /abs-escape, a symlink to the victim and a file through it
    const stage = join(w.dir, 'evil');
    await mkdir(stage, { recursive: true });
    const py = `
import tarfile, io
t = tarfile.open('${w.ctx}/evil.tar', 'w')
def add(name, data=b'EVIL', typ=tarfile.REGTYPE, link=''):
    i = tarfile.TarInfo(name); i.type = typ; i.linkname = link; i.size = 0 if typ != tarfile.REGTYPE else len(data)
    t.addfile(i, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
add('../../escape')
add('/abs-escape')
add('lnk', typ=tarfile.SYMTYPE, link='${victim}')
add('lnk/pwned')
add('hard', typ=tarfile.LNKTYPE, link='${victim}/secret.txt')
t.close()
t = tarfile.open('${w.ctx}/good.tar.gz', 'w:gz')
add('inside.txt', b'good')
t.close()
`;
    execFileSync('python3', ['-c', py]);
    await w.build('FROM localhost/busybox\nADD evil.tar /evil/\n', { tags: ['bu15'] }).catch(() => undefined);
    expect((await readdir(victim)).sort()).toEqual(['secret.txt']);
    expect(await readFile(join(victim, 'secret.txt'), 'utf8')).toBe('HOST-SECRET-BYTES\n');
    await w.build('FROM localhost/busybox\nRUN mkdir -p /usr/real && ln -s /usr/real /sym\nADD good.tar.gz /sym/\n', { tags: ['bu15b'] });
    expect(await readFile(join((await w.image('bu15b')).rootfs, 'usr/real/inside.txt'), 'utf8')).toBe('good');
  });

  it('LA-16/BU-15 ADD of a gzip bomb beyond the limit fails with ELIMIT and names nothing', async () => {
    // a tar claiming a 4 GiB file of zeros as concatenated gzip members: ~4 MB in the context, ratio ~1000:1
    const header = Buffer.alloc(512);
    header.write('bomb', 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${(4 * 1024 ** 3).toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('0', 156);
    header.write('ustar\0' + '00', 257);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    await writeFile(join(w.ctx, 'bomb.tar.gz'), Buffer.concat([gzipSync(header), ...Array.from({ length: 64 }, () => member)]));
    const err = (await w.build('FROM localhost/busybox\nADD bomb.tar.gz /b/\n', { tags: ['bomb'] }).then(() => undefined, (e: unknown) => e)) as { code?: string; message?: string };
    expect(err?.code).toBe('ELIMIT');
    expect(err?.message).toMatch(/ratio/);
    await expect(w.image('bomb')).rejects.toBeTruthy();
  }, 120_000);

  describe('BU-16 ADD <url>', () => {
    let server: Server;
    let base = '';
    const body = 'downloaded-content\n';
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/file.txt') res.end(body);
        else if (req.url === '/to-file') res.writeHead(302, { location: 'file:///etc/passwd' }).end();
        else if (req.url === '/to-meta') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end();
        // the same target in an IPv4-mapped IPv6 spelling, and the unspecified address (refused before any connection)
        else if (req.url === '/to-meta-mapped') res.writeHead(302, { location: 'http://[::ffff:169.254.169.254]/latest/meta-data' }).end();
        else if (req.url === '/to-unspecified') res.writeHead(302, { location: 'http://0.0.0.0:1/x' }).end();
        else if (req.url === '/big') res.end(Buffer.alloc(64 * 1024, 1));
        else if (req.url === '/bomb') res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(8 * 1024 * 1024)));
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('BU-16 only http(s), SSRF and size limits, checksum enforced', async () => {
      const sum = createHash('sha256').update(body).digest('hex');
      await w.build(`FROM localhost/busybox\nADD --checksum=sha256:${sum} ${base}/file.txt /dl/\nADD ${base}/bomb /bomb\n`, { tags: ['bu16'] });
      const img = await w.image('bu16');
      expect(await readFile(join(img.rootfs, 'dl/file.txt'), 'utf8')).toBe(body);
      expect((await lstat(join(img.rootfs, 'bomb'))).size).toBeLessThan(1024 * 1024);
      await expect(w.build(`FROM localhost/busybox\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/file.txt /x\n`)).rejects.toThrow(/checksum mismatch/);
      await expect(w.build(`FROM localhost/busybox\nADD ${base}/to-file /x\n`)).rejects.toThrow(/http and https/);
      await expect(w.build(`FROM localhost/busybox\nADD ${base}/to-meta /x\n`)).rejects.toThrow(/link-local/);
      await expect(w.build(`FROM localhost/busybox\nADD ${base}/to-meta-mapped /x\n`)).rejects.toThrow(/link-local/);
      await expect(w.build(`FROM localhost/busybox\nADD ${base}/to-unspecified /x\n`)).rejects.toThrow(/unspecified/);
      await expect(w.build(`FROM localhost/busybox\nADD ${base}/big /x\n`, { addUrlMaxBytes: 1024 })).rejects.toThrow(/limit/);
    });
  });

  it('BU-18 a failed build tags nothing; a successful one commits layers, config, manifest, then the name', async () => {
    await expect(w.build('FROM localhost/busybox\nRUN echo partial > /p\nRUN exit 7\n', { tags: ['bu18'] })).rejects.toThrow(/exit status 7/);
    await expect(w.image('bu18')).rejects.toThrow(/not known/);
    await w.build('FROM localhost/busybox\nRUN echo done > /p\n', { tags: ['bu18'] });
    const store = await openStore(w.root);
    try {
      const img = await w.image('bu18');
      for (const l of img.manifest.layers) expect(await store.blobs.has(l.digest, l.size)).toBe(true);
      expect(await store.blobs.has(img.manifest.config.digest, img.manifest.config.size)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('BU-20 COPY --from resolves absolute symlinks inside the source stage only', async () => {
    const df = `FROM localhost/busybox AS a
RUN mkdir -p /real && echo inside > /real/f && ln -s /real /abs && ln -s ${join(victim, 'secret.txt')} /esc
FROM localhost/busybox
COPY --from=a /abs/f /got
`;
    await w.build(df, { tags: ['bu20'] });
    expect(await readFile(join((await w.image('bu20')).rootfs, 'got'), 'utf8')).toBe('inside\n');
    await expect(w.build(df.replace('/abs/f /got', '/esc /leak'))).rejects.toThrow(/not found|does not exist/);
  });
});
